// Incremental byte source for the capture parsers: chunks go in, fixed-size
// views come out. A view lying whole inside one chunk is a subarray (no copy);
// one that spans chunks is assembled in a buffer of exactly its size, so at
// most one record's bytes are ever held beyond the caller's current chunk.

const EMPTY = new Uint8Array(0);

/** Unsigned 32-bit integer at b[o] in the given byte order. */
export function rd32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
    : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Unsigned 16-bit integer at b[o] in the given byte order. */
export function rd16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
}

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private cur: Uint8Array = EMPTY;
  private pos = 0;
  private part: Uint8Array | null = null;
  private partLen = 0;
  private skipLeft = -1;
  /** Bytes consumed from the input so far (including bytes held in a partial take). */
  consumed = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.pos >= this.cur.length && this.head >= this.chunks.length) {
      this.cur = chunk;
      this.pos = 0;
      if (this.chunks.length) { this.chunks.length = 0; this.head = 0; }
    } else {
      this.chunks.push(chunk);
    }
  }

  /** Offset in the input where the pending (or next) take starts. */
  get mark(): number {
    return this.consumed - this.partLen;
  }

  /** True when no input byte is held: nothing unread and no partial take. */
  get empty(): boolean {
    return this.partLen === 0 && this.skipLeft < 0 && this.pos >= this.cur.length && this.head >= this.chunks.length;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    let n = this.cur.length - this.pos;
    for (let i = this.head; i < this.chunks.length; i++) n += this.chunks[i]!.length;
    return n;
  }

  private advance(): boolean {
    if (this.head >= this.chunks.length) {
      this.cur = EMPTY;
      this.pos = 0;
      if (this.chunks.length) { this.chunks.length = 0; this.head = 0; }
      return false;
    }
    this.cur = this.chunks[this.head]!;
    this.chunks[this.head++] = EMPTY;
    this.pos = 0;
    return true;
  }

  /**
   * The next `n` bytes, or null if not all of them have arrived yet (the ones
   * that have are kept; call again with the same `n` after the next push).
   */
  take(n: number): Uint8Array | null {
    if (this.part === null) {
      const c = this.cur;
      const p = this.pos;
      if (c.length - p >= n) {
        this.pos = p + n;
        this.consumed += n;
        return c.subarray(p, p + n);
      }
      this.part = new Uint8Array(n);
      this.partLen = 0;
    }
    const part = this.part;
    while (this.partLen < n) {
      if (this.pos >= this.cur.length && !this.advance()) return null;
      const k = Math.min(n - this.partLen, this.cur.length - this.pos);
      part.set(this.cur.subarray(this.pos, this.pos + k), this.partLen);
      this.pos += k;
      this.partLen += k;
      this.consumed += k;
    }
    this.part = null;
    this.partLen = 0;
    return part;
  }

  /** The array the last takeOffset() result indexes. */
  src: Uint8Array = EMPTY;

  /**
   * Like take(n), without making a view: returns the offset of the bytes in
   * `this.src`, or -1 if not all of them have arrived yet.
   */
  takeOffset(n: number): number {
    if (this.part === null) {
      const c = this.cur;
      const p = this.pos;
      if (c.length - p >= n) {
        this.pos = p + n;
        this.consumed += n;
        this.src = c;
        return p;
      }
    }
    const b = this.take(n);
    if (b === null) return -1;
    this.src = b;
    return 0;
  }

  /** Discard `n` bytes without holding them; false until all of them have gone by. */
  skip(n: number): boolean {
    if (this.skipLeft < 0) this.skipLeft = n;
    while (this.skipLeft > 0) {
      if (this.pos >= this.cur.length && !this.advance()) return false;
      const k = Math.min(this.skipLeft, this.cur.length - this.pos);
      this.pos += k;
      this.skipLeft -= k;
      this.consumed += k;
    }
    this.skipLeft = -1;
    return true;
  }
}
