// The net layer: pcap/pcapng reading and writing (streaming, constant
// memory), packet building and dissection, synthetic traffic. No node:
// modules: runs in a browser (src/cli/pcap-stream.ts adapts Node files/stdio).
export * from './record.js';
export * from './linktype.js';
export * from './bytequeue.js';
export * from './pcap.js';
export * from './pcapng.js';
export * from './reader.js';
export * from './writer.js';
export * from './addr.js';
export * from './packet.js';
export * from './generate.js';
