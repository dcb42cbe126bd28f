// Express 4, installed under an alias so both majors are tested; its API is the one @types/express describes.
declare module 'express4' {
  import express from 'express';
  export default express;
}
