import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import { embeddedTypeOrmOptions } from '../lib';
import { User } from './users/user.entity';

/** The sample's one database: DATABASE_URL when set, else the embedded PGlite nest-oban uses too. */
export const databaseUrl = process.env.DATABASE_URL || undefined;

export function typeOrmOptions(): TypeOrmModuleOptions {
  const where = databaseUrl ? { type: 'postgres' as const, url: databaseUrl } : embeddedTypeOrmOptions();
  // synchronize keeps the sample to one command; a real app runs migrations.
  return { ...where, entities: [User], synchronize: true };
}
