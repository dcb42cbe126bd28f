export { classify } from './classify.js';
export { classifyResponse } from './http-status.js';
export { classifyCloseCode } from './ws.js';
export { parseRetryAfter } from './retry-after.js';
