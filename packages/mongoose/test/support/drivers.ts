import { createRequire } from 'node:module';
import mongoose9 from 'mongoose';

/** The mongoose module the tests drive: each line brings its own driver (mongoose 9: driver 7.x; mongoose 8: driver 6.x). */
export type MongooseModule = typeof mongoose9;

export interface DriverLine {
  readonly label: string;
  readonly mongoose: MongooseModule;
  /** The MongoDB driver's major version: 7 fails an operation on a refused server at once, 6 waits in server selection. */
  readonly driverMajor: number;
}

const require = createRequire(import.meta.url);
// mongoose's types declare the module 'mongoose' by name, so the alias has none of its own: it is loaded untyped and used as the same shape.
const mongoose8 = require('mongoose8') as MongooseModule;

function driverVersion(mongooseName: string): string {
  const fromMongoose = createRequire(require.resolve(`${mongooseName}/package.json`));
  return (fromMongoose('mongodb/package.json') as { version: string }).version;
}

/** Every test of the suite runs against both lines: they disagree on what a dead server looks like. */
export const DRIVER_LINES: readonly DriverLine[] = [line('mongoose', mongoose9), line('mongoose8', mongoose8)];

function line(name: string, mongoose: MongooseModule): DriverLine {
  const driver = driverVersion(name);
  return { label: `mongoose ${mongoose.version} / driver ${driver}`, mongoose, driverMajor: Number(driver.split('.')[0]) };
}
