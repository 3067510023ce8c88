import {
  BadRequestException,
  Body,
  Controller,
  Get,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
} from '@nestjs/common';
import { UsersService } from './users.service';

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** POST /users {"email": "..."}: the user and its welcome-email job, created together. */
  @Post()
  async create(@Body() body: { email?: unknown }) {
    if (typeof body?.email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(body.email)) {
      throw new BadRequestException('send {"email": "someone@example.com"}');
    }
    const { user, job } = await this.users.create(body.email);
    return { user, welcomeEmailJob: { id: job.id, state: job.state, queue: job.queue } };
  }

  @Get(':id')
  async get(@Param('id', ParseIntPipe) id: number) {
    const user = await this.users.find(id);
    if (!user) throw new NotFoundException(`no user ${id}`);
    return user;
  }
}
