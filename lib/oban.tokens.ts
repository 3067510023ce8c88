/** Injection tokens. */
export const OBAN_MODULE_OPTIONS = Symbol.for('nest-oban.module-options');
export const OBAN_CONFIG = Symbol.for('nest-oban.config');
export const OBAN_DATABASE = Symbol.for('nest-oban.database');
/** The file that called `ObanModule.forRoot()`; worker processes load the app's modules from there. */
export const OBAN_ROOT_FILE = Symbol.for('nest-oban.root-file');
/** This node's runtime, as the `Oban` service sees it (see NodeView). */
export const OBAN_NODE = Symbol.for('nest-oban.node');
/** The JobStore the `Oban` service inserts into: `oban_jobs`, or the inline store of `testing: 'inline'`. */
export const OBAN_JOB_STORE = Symbol.for('nest-oban.job-store');
/** What nest-oban/testing reaches through `Oban` (see ObanInternals); also the key of its accessor. */
export const OBAN_INTERNALS = Symbol.for('nest-oban.internals');
