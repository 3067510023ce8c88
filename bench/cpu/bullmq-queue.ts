/** The queue of BullMQ's CPU batch. */
export const BULLMQ_QUEUE = 'sha';
