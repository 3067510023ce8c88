import { Module } from '@nestjs/common';
import { ObanHealthModule } from '../../lib/health'; // in an app: 'nest-oban/health'
import { HealthController } from './health.controller';

@Module({ imports: [ObanHealthModule], controllers: [HealthController] })
export class HealthModule {}
