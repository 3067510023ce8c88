import type { Logger } from '@nestjs/common';
import type { ObanConfig } from '../config/config';
import type { ObanEvents } from '../events/oban-events';
import type { ClusterStore } from '../store/cluster-store';
import type { Clock } from '../util/clock';
import type { WorkerRegistry } from '../worker/worker-registry';

/** What a plugin may ask of the node about leadership. */
export interface LeaderView {
  readonly node: string;
  /** True while this node holds an unexpired lease (by its own clock, with a safety margin). */
  readonly isLeader: boolean;
  /** Called each time this node becomes leader. */
  onElected(handler: () => void): void;
}

export interface PluginContext {
  config: ObanConfig;
  cluster: ClusterStore;
  registry: WorkerRegistry;
  peer: LeaderView;
  clock: Clock;
  logger: Logger;
  events: ObanEvents;
}

/**
 * A background task of a node (lifeline, pruner, cron). The runtime starts
 * plugins after the node's first heartbeat and stops them first at shutdown.
 * Leader-only plugins check `ctx.peer.isLeader` before each action.
 */
export interface Plugin {
  readonly name: string;
  start(ctx: PluginContext): void | Promise<void>;
  stop(): Promise<void>;
}
