// HashFile: the file's SHA-256, streamed (node's crypto), so a large image is never held whole.
const crypto = require('crypto');
const fs = require('fs');

exports.handler = async (event) => {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(event.path)) hash.update(chunk);
  return {sha256: hash.digest('hex')};
};
