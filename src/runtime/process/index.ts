// Public face of the `process` runtime driver; everything else in this folder is internal.

export { createProcessDriver, type ProcessDriverOptions } from './process-driver.ts';
