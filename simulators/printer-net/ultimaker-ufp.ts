/**
 * Ultimaker Format Package (`.ufp`): an OPC zip holding `/3D/model.gcode` (plus a thumbnail and
 * Cura's metadata). The simulated Ultimaker unpacks a received `.ufp` to its G-code with
 * `ufpGcode()`; `writeUfp()` makes one (stored, no compression) for tests and a demo catalogue.
 * A small zip reader of our own: central directory, stored or deflated members, no zip64.
 */
import { crc32, inflateRawSync } from "node:zlib";

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Where the G-code sits in a package (OPC member names carry a leading slash; zip entries do not). */
export const UFP_GCODE_MEMBER = "3D/model.gcode";

/** The members of a zip, by name (without a leading slash), unpacked. Throws on a broken archive. */
export function unzip(zip: Buffer): Map<string, Buffer> {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip archive (no end of central directory)");
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL) throw new Error("broken zip central directory");
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString("utf8").replace(/^\/+/, "");
    at += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== LOCAL) throw new Error(`broken zip member ${name}`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    if (method === 0) out.set(name, Buffer.from(data));
    else if (method === 8) out.set(name, inflateRawSync(data));
    else throw new Error(`zip member ${name}: compression method ${method} not supported`);
  }
  return out;
}

/** The G-code inside a `.ufp`; throws (in plain words) when it is not a package with `/3D/model.gcode`. */
export function ufpGcode(ufp: Buffer): string {
  const gcode = unzip(ufp).get(UFP_GCODE_MEMBER);
  if (gcode === undefined) throw new Error("not an Ultimaker Format Package: no /3D/model.gcode inside");
  return gcode.toString("utf8");
}

/** A minimal `.ufp` around `gcode` (OPC content types, the G-code member; no thumbnail). */
export function writeUfp(gcode: string): Buffer {
  const members: Array<[string, Buffer]> = [
    [
      "[Content_Types].xml",
      Buffer.from(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
          '<Default Extension="gcode" ContentType="text/x-gcode"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/></Types>\n',
      ),
    ],
    [
      "_rels/.rels",
      Buffer.from(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
          '<Relationship Target="/3D/model.gcode" Id="rel0" Type="http://schemas.ultimaker.org/package/2018/relationships/gcode"/></Relationships>\n',
      ),
    ],
    [`/${UFP_GCODE_MEMBER}`, Buffer.from(gcode, "utf8")],
  ];
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of members) {
    const nameBuf = Buffer.from(name, "utf8");
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(CENTRAL, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}
