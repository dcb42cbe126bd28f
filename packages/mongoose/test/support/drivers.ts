import { createRequire } from 'node:module';
import mongoose9 from 'mongoose';

/** The mongoose module the tests drive: each line brings its own driver (mongoose 9: driver 7.x; mongoose 8: driver 6.x). */
export type MongooseModule = typeof mongoose9;

export interface DriverLine {
  readonly label: string;
  readonly mongoose: MongooseModule;
}

const require = createRequire(import.meta.url);
// mongoose's types declare the module 'mongoose' by name, so the alias has none of its own: it is loaded untyped and used as the same shape.
const mongoose8 = require('mongoose8') as MongooseModule;

function driverVersion(mongooseName: string): string {
  const fromMongoose = createRequire(require.resolve(`${mongooseName}/package.json`));
  return (fromMongoose('mongodb/package.json') as { version: string }).version;
}

/** Every test of the suite runs against both lines: they disagree on what a dead server looks like. */
export const DRIVER_LINES: readonly DriverLine[] = [
  { label: `mongoose ${mongoose9.version} / driver ${driverVersion('mongoose')}`, mongoose: mongoose9 },
  { label: `mongoose ${mongoose8.version} / driver ${driverVersion('mongoose8')}`, mongoose: mongoose8 },
];
