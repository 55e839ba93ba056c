// Reading the bytes of an agent file: the zip archive (stored or deflated members, zip64 sizes,
// CRC-32 checked) and the NumPy .npy arrays inside its `parameters` member (itself a zip: an .npz).
import { inflateRawSync } from "node:zlib";

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const ZIP64_EXTRA_ID = 0x0001;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function findEndOfCentralDirectory(buffer, where) {
  // The record is 22 bytes plus a comment of at most 65535 bytes, at the end of the file.
  const lowest = Math.max(0, buffer.length - 22 - 0xffff);
  for (let offset = buffer.length - 22; offset >= lowest; offset--) {
    if (buffer.readUInt32LE(offset) === EOCD_SIGNATURE) return offset;
  }
  throw new Error(`${where}: not a zip archive (no end of central directory record)`);
}

function centralDirectory(buffer, where) {
  const eocd = findEndOfCentralDirectory(buffer, where);
  let count = buffer.readUInt16LE(eocd + 10);
  let offset = buffer.readUInt32LE(eocd + 16);
  const locator = eocd - 20;
  if (locator >= 0 && buffer.readUInt32LE(locator) === ZIP64_LOCATOR_SIGNATURE) {
    const record = Number(buffer.readBigUInt64LE(locator + 8));
    if (buffer.readUInt32LE(record) !== ZIP64_EOCD_SIGNATURE) {
      throw new Error(`${where}: bad zip64 end of central directory record`);
    }
    count = Number(buffer.readBigUInt64LE(record + 32));
    offset = Number(buffer.readBigUInt64LE(record + 48));
  }
  return { count, offset };
}

function zip64Values(extra, wanted) {
  // The zip64 extra field holds, in this order, only the fields whose 32-bit value is 0xFFFFFFFF.
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const size = extra.readUInt16LE(at + 2);
    if (id === ZIP64_EXTRA_ID) {
      return wanted.map((_, index) => Number(extra.readBigUInt64LE(at + 4 + 8 * index)));
    }
    at += 4 + size;
  }
  throw new Error("zip64 sizes announced but no zip64 extra field");
}

/**
 * The members of a zip archive.
 * @param {Buffer} buffer the whole archive
 * @param {string} where a name for error messages (the file, or file:member)
 * @returns {Map<string, Buffer>} member name -> uncompressed bytes
 */
export function readZip(buffer, where) {
  const { count, offset } = centralDirectory(buffer, where);
  const members = new Map();
  let at = offset;
  for (let index = 0; index < count; index++) {
    if (buffer.readUInt32LE(at) !== CENTRAL_SIGNATURE) throw new Error(`${where}: corrupt central directory`);
    const method = buffer.readUInt16LE(at + 10);
    const crc = buffer.readUInt32LE(at + 16);
    let compressedSize = buffer.readUInt32LE(at + 20);
    let size = buffer.readUInt32LE(at + 24);
    const nameLength = buffer.readUInt16LE(at + 28);
    const extraLength = buffer.readUInt16LE(at + 30);
    const commentLength = buffer.readUInt16LE(at + 32);
    let localOffset = buffer.readUInt32LE(at + 42);
    const name = buffer.toString("utf8", at + 46, at + 46 + nameLength);
    const extra = buffer.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
    const large = [size, compressedSize, localOffset].map((value) => value === 0xffffffff);
    if (large.some(Boolean)) {
      const values = zip64Values(extra, large.filter(Boolean));
      let next = 0;
      if (large[0]) size = values[next++];
      if (large[1]) compressedSize = values[next++];
      if (large[2]) localOffset = values[next++];
    }
    if (buffer.readUInt32LE(localOffset) !== LOCAL_SIGNATURE) throw new Error(`${where}:${name}: bad local header`);
    const start = localOffset + 30 + buffer.readUInt16LE(localOffset + 26) + buffer.readUInt16LE(localOffset + 28);
    const stored = buffer.subarray(start, start + compressedSize);
    let bytes;
    if (method === 0) bytes = stored;
    else if (method === 8) bytes = inflateRawSync(stored);
    else throw new Error(`${where}:${name}: compression method ${method}, expected 0 (stored) or 8 (deflate)`);
    if (bytes.length !== size || crc32(bytes) !== crc) throw new Error(`${where}:${name}: size or CRC-32 mismatch`);
    members.set(name, bytes);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return members;
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const NPY_READERS = {
  "<f4": [4, (view, at) => view.getFloat32(at, true)],
  "<f8": [8, (view, at) => view.getFloat64(at, true)],
  "<i4": [4, (view, at) => view.getInt32(at, true)],
  "<i8": [8, (view, at) => Number(view.getBigInt64(at, true))],
};

/**
 * A NumPy .npy array (little-endian numbers, C order).
 * @param {Buffer} bytes the .npy file
 * @param {string} where a name for error messages
 * @returns {{shape: number[], data: Float64Array}} the values, flat, row-major, as float64
 */
export function readNpy(bytes, where) {
  if (!bytes.subarray(0, 6).equals(NPY_MAGIC)) throw new Error(`${where}: not a .npy array`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.toString("latin1", headerStart, headerStart + headerLength);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!(descr in NPY_READERS)) throw new Error(`${where}: dtype ${descr}, expected one of ${Object.keys(NPY_READERS)}`);
  if (fortran !== "False") throw new Error(`${where}: Fortran-ordered arrays are not supported`);
  const shape = shapeText.split(",").map((size) => size.trim()).filter(Boolean).map(Number);
  const [itemSize, read] = NPY_READERS[descr];
  const count = shape.reduce((product, size) => product * size, 1);
  const start = headerStart + headerLength;
  if (bytes.length - start !== count * itemSize) throw new Error(`${where}: ${bytes.length - start} data bytes, expected ${count * itemSize}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * itemSize);
  const data = new Float64Array(count);
  for (let index = 0; index < count; index++) data[index] = read(view, index * itemSize);
  return { shape, data };
}

/**
 * The three members of an agent file, decoded: `data` (JSON), `parameter_list` (JSON) and the
 * arrays of `parameters`, in `parameter_list` order.
 * @param {Buffer} buffer the agent zip
 * @param {string} where the file name, for error messages
 */
export function readAgent(buffer, where) {
  const members = readZip(buffer, where);
  for (const name of ["data", "parameter_list", "parameters"]) {
    if (!members.has(name)) throw new Error(`${where}: no member '${name}'`);
  }
  const data = JSON.parse(members.get("data").toString("utf8"));
  const parameterList = JSON.parse(members.get("parameter_list").toString("utf8"));
  const arrays = readZip(members.get("parameters"), `${where}:parameters`);
  const parameters = new Map();
  for (const name of parameterList) {
    const member = `${name}.npy`;
    if (!arrays.has(member)) throw new Error(`${where}:parameters: no array '${member}'`);
    parameters.set(name, readNpy(arrays.get(member), `${where}:parameters/${member}`));
  }
  return { data, parameterList, parameters };
}
