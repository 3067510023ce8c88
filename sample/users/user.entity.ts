import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('sample_users')
export class User {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'text', unique: true })
  email: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt: Date;

  /** Set by WelcomeEmailWorker once the email went out. */
  @Column({ type: 'timestamptz', nullable: true })
  welcomedAt: Date | null;
}
