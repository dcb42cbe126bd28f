export { resumablePipeline, type PipelineStage, type ResumablePipe } from './resumable-pipeline.js';
export type { ResumablePipelineOptions } from './options.js';
export type { ResumablePipeEvents, ResumablePipeStats } from './events.js';
export type { OpenContext, ResumableSource } from './source.js';
export { SourceError, type SourceErrorReason } from './source-error.js';
export { fileSource, type FileSourceOptions } from './file-source.js';
