import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');

/**
 * A full, synchronous garbage collection. Called before each measured round so
 * that the garbage one contender left behind is not collected on the next
 * one's clock (a contender that allocates a lot would otherwise slow whoever
 * runs after it in the alternation).
 */
export const collectGarbage = runInNewContext('gc') as () => void;
