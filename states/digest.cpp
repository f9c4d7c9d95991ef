#include "states/digest.h"

#include <array>
#include <cstdint>
#include <vector>

namespace stepwise::states {
namespace {

// Round constants are mathematical constants (fractional parts of sines,
// square roots and cube roots of primes) fixed by RFC 1321 and FIPS 180-4.
constexpr std::array<std::uint32_t, 64> kMd5K = {
    0xd76aa478U, 0xe8c7b756U, 0x242070dbU, 0xc1bdceeeU, 0xf57c0fafU, 0x4787c62aU, 0xa8304613U,
    0xfd469501U, 0x698098d8U, 0x8b44f7afU, 0xffff5bb1U, 0x895cd7beU, 0x6b901122U, 0xfd987193U,
    0xa679438eU, 0x49b40821U, 0xf61e2562U, 0xc040b340U, 0x265e5a51U, 0xe9b6c7aaU, 0xd62f105dU,
    0x02441453U, 0xd8a1e681U, 0xe7d3fbc8U, 0x21e1cde6U, 0xc33707d6U, 0xf4d50d87U, 0x455a14edU,
    0xa9e3e905U, 0xfcefa3f8U, 0x676f02d9U, 0x8d2a4c8aU, 0xfffa3942U, 0x8771f681U, 0x6d9d6122U,
    0xfde5380cU, 0xa4beea44U, 0x4bdecfa9U, 0xf6bb4b60U, 0xbebfbc70U, 0x289b7ec6U, 0xeaa127faU,
    0xd4ef3085U, 0x04881d05U, 0xd9d4d039U, 0xe6db99e5U, 0x1fa27cf8U, 0xc4ac5665U, 0xf4292244U,
    0x432aff97U, 0xab9423a7U, 0xfc93a039U, 0x655b59c3U, 0x8f0ccc92U, 0xffeff47dU, 0x85845dd1U,
    0x6fa87e4fU, 0xfe2ce6e0U, 0xa3014314U, 0x4e0811a1U, 0xf7537e82U, 0xbd3af235U, 0x2ad7d2bbU,
    0xeb86d391U,
};
constexpr std::array<int, 16> kMd5Shift = {7, 12, 17, 22, 5, 9,  14, 20,
                                           4, 11, 16, 23, 6, 10, 15, 21};

constexpr std::array<std::uint32_t, 64> kSha256K = {
    0x428a2f98U, 0x71374491U, 0xb5c0fbcfU, 0xe9b5dba5U, 0x3956c25bU, 0x59f111f1U, 0x923f82a4U,
    0xab1c5ed5U, 0xd807aa98U, 0x12835b01U, 0x243185beU, 0x550c7dc3U, 0x72be5d74U, 0x80deb1feU,
    0x9bdc06a7U, 0xc19bf174U, 0xe49b69c1U, 0xefbe4786U, 0x0fc19dc6U, 0x240ca1ccU, 0x2de92c6fU,
    0x4a7484aaU, 0x5cb0a9dcU, 0x76f988daU, 0x983e5152U, 0xa831c66dU, 0xb00327c8U, 0xbf597fc7U,
    0xc6e00bf3U, 0xd5a79147U, 0x06ca6351U, 0x14292967U, 0x27b70a85U, 0x2e1b2138U, 0x4d2c6dfcU,
    0x53380d13U, 0x650a7354U, 0x766a0abbU, 0x81c2c92eU, 0x92722c85U, 0xa2bfe8a1U, 0xa81a664bU,
    0xc24b8b70U, 0xc76c51a3U, 0xd192e819U, 0xd6990624U, 0xf40e3585U, 0x106aa070U, 0x19a4c116U,
    0x1e376c08U, 0x2748774cU, 0x34b0bcb5U, 0x391c0cb3U, 0x4ed8aa4aU, 0x5b9cca4fU, 0x682e6ff3U,
    0x748f82eeU, 0x78a5636fU, 0x84c87814U, 0x8cc70208U, 0x90befffaU, 0xa4506cebU, 0xbef9a3f7U,
    0xc67178f2U,
};
constexpr std::array<std::uint32_t, 8> kSha256Init = {
    0x6a09e667U, 0xbb67ae85U, 0x3c6ef372U, 0xa54ff53aU,
    0x510e527fU, 0x9b05688cU, 0x1f83d9abU, 0x5be0cd19U,
};
constexpr std::array<std::uint64_t, 80> kSha512K = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
    0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
    0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
    0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
    0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
    0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
    0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
    0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
    0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
    0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
    0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
    0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
    0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
    0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};
constexpr std::array<std::uint64_t, 8> kSha512Init = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};
constexpr std::array<std::uint64_t, 8> kSha384Init = {
    0xcbbb9d5dc1059ed8ULL, 0x629a292a367cd507ULL, 0x9159015a3070dd17ULL, 0x152fecd8f70e5939ULL,
    0x67332667ffc00b31ULL, 0x8eb44a8768581511ULL, 0xdb0c2e0d64f98fa7ULL, 0x47b5481dbefa4fa4ULL,
};

constexpr std::uint32_t rotl32(std::uint32_t x, int n) {
  return (x << n) | (x >> (32 - n));
}
constexpr std::uint32_t rotr32(std::uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}
constexpr std::uint64_t rotr64(std::uint64_t x, int n) {
  return (x >> n) | (x << (64 - n));
}

// Merkle-Damgard padding shared by all five digests: a 0x80 byte, zeros, then
// the message length in bits in a field of `length_bytes` bytes, so that the
// total is a multiple of `block`. MD5 stores the length little-endian.
std::vector<unsigned char> pad_message(std::string_view data, std::size_t block,
                                       std::size_t length_bytes, bool little_endian) {
  std::vector<unsigned char> msg(data.begin(), data.end());
  msg.push_back(0x80);
  while ((msg.size() + length_bytes) % block != 0) msg.push_back(0);
  std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  std::vector<unsigned char> len(length_bytes, 0);
  for (std::size_t i = 0; i < 8; ++i) {
    auto byte = static_cast<unsigned char>(bits >> (8 * i));
    if (little_endian) {
      len[i] = byte;
    } else {
      len[length_bytes - 1 - i] = byte;
    }
  }
  msg.insert(msg.end(), len.begin(), len.end());
  return msg;
}

std::uint32_t load_be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
std::uint32_t load_le32(const unsigned char* p) {
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) |
         std::uint32_t{p[0]};
}
std::uint64_t load_be64(const unsigned char* p) {
  return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}

void append_hex(std::string& out, std::uint64_t word, int bytes, bool little_endian) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < bytes; ++i) {
    int shift = little_endian ? 8 * i : 8 * (bytes - 1 - i);
    auto b = static_cast<unsigned>((word >> shift) & 0xff);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
}

std::string md5(std::string_view data) {
  std::uint32_t h[4] = {0x67452301U, 0xefcdab89U, 0x98badcfeU, 0x10325476U};
  auto msg = pad_message(data, 64, 8, true);
  for (std::size_t off = 0; off < msg.size(); off += 64) {
    std::uint32_t m[16];
    for (int i = 0; i < 16; ++i) m[i] = load_le32(&msg[off + 4 * i]);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; ++i) {
      std::uint32_t f;
      int g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      f += a + kMd5K[i] + m[g];
      a = d;
      d = c;
      c = b;
      b += rotl32(f, kMd5Shift[(i / 16) * 4 + i % 4]);
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
  }
  std::string out;
  for (auto w : h) append_hex(out, w, 4, true);
  return out;
}

std::string sha1(std::string_view data) {
  std::uint32_t h[5] = {0x67452301U, 0xefcdab89U, 0x98badcfeU, 0x10325476U, 0xc3d2e1f0U};
  auto msg = pad_message(data, 64, 8, false);
  for (std::size_t off = 0; off < msg.size(); off += 64) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) w[i] = load_be32(&msg[off + 4 * i]);
    for (int i = 16; i < 80; ++i) w[i] = rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999U;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1U;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdcU;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6U;
      }
      std::uint32_t t = rotl32(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl32(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::string out;
  for (auto word : h) append_hex(out, word, 4, false);
  return out;
}

// SHA-2 (FIPS 180-4, sections 6.2 and 6.4): SHA-256 and SHA-512 share one
// compression function over different word sizes, round counts, constants
// and rotation amounts.
struct Sha256Params {
  using Word = std::uint32_t;
  static constexpr int kRounds = 64, kBlockBytes = 64, kLengthBytes = 8;
  static constexpr int kSigma0[3] = {2, 13, 22}, kSigma1[3] = {6, 11, 25};  // Σ0, Σ1
  static constexpr int kMix0[3] = {7, 18, 3}, kMix1[3] = {17, 19, 10};     // σ0, σ1 (last is a shift)
  static constexpr const auto& kK = kSha256K;
  static Word load(const unsigned char* p) { return load_be32(p); }
  static constexpr Word rotr(Word x, int n) { return rotr32(x, n); }
};

struct Sha512Params {
  using Word = std::uint64_t;
  static constexpr int kRounds = 80, kBlockBytes = 128, kLengthBytes = 16;
  static constexpr int kSigma0[3] = {28, 34, 39}, kSigma1[3] = {14, 18, 41};
  static constexpr int kMix0[3] = {1, 8, 7}, kMix1[3] = {19, 61, 6};
  static constexpr const auto& kK = kSha512K;
  static Word load(const unsigned char* p) { return load_be64(p); }
  static constexpr Word rotr(Word x, int n) { return rotr64(x, n); }
};

template <class P>
std::string sha2(std::string_view data, const std::array<typename P::Word, 8>& init, int output_words) {
  using W = typename P::Word;
  constexpr int kWordBytes = sizeof(W);
  std::array<W, 8> h = init;
  auto msg = pad_message(data, P::kBlockBytes, P::kLengthBytes, false);
  for (std::size_t off = 0; off < msg.size(); off += P::kBlockBytes) {
    W w[P::kRounds];
    for (int i = 0; i < 16; ++i) w[i] = P::load(&msg[off + kWordBytes * i]);
    for (int i = 16; i < P::kRounds; ++i) {
      W s0 = P::rotr(w[i - 15], P::kMix0[0]) ^ P::rotr(w[i - 15], P::kMix0[1]) ^ (w[i - 15] >> P::kMix0[2]);
      W s1 = P::rotr(w[i - 2], P::kMix1[0]) ^ P::rotr(w[i - 2], P::kMix1[1]) ^ (w[i - 2] >> P::kMix1[2]);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    W a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < P::kRounds; ++i) {
      W s1 = P::rotr(e, P::kSigma1[0]) ^ P::rotr(e, P::kSigma1[1]) ^ P::rotr(e, P::kSigma1[2]);
      W ch = (e & f) ^ (~e & g);
      W t1 = hh + s1 + ch + P::kK[i] + w[i];
      W s0 = P::rotr(a, P::kSigma0[0]) ^ P::rotr(a, P::kSigma0[1]) ^ P::rotr(a, P::kSigma0[2]);
      W maj = (a & b) ^ (a & c) ^ (b & c);
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + s0 + maj;
    }
    const W round_out[8] = {a, b, c, d, e, f, g, hh};
    for (int i = 0; i < 8; ++i) h[i] += round_out[i];
  }
  std::string out;
  for (int i = 0; i < output_words; ++i) append_hex(out, h[i], kWordBytes, false);
  return out;
}

std::string sha256(std::string_view data) { return sha2<Sha256Params>(data, kSha256Init, 8); }

// SHA-512, and SHA-384 (the same compression with other initial values,
// truncated to six words).
std::string sha512_family(std::string_view data, const std::array<std::uint64_t, 8>& init,
                          int output_words) {
  return sha2<Sha512Params>(data, init, output_words);
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view name) {
  if (name == "MD5") return DigestAlgorithm::kMd5;
  if (name == "SHA-1") return DigestAlgorithm::kSha1;
  if (name == "SHA-256") return DigestAlgorithm::kSha256;
  if (name == "SHA-384") return DigestAlgorithm::kSha384;
  if (name == "SHA-512") return DigestAlgorithm::kSha512;
  return std::nullopt;
}

std::string hex_digest(DigestAlgorithm algorithm, std::string_view data) {
  switch (algorithm) {
    case DigestAlgorithm::kMd5:
      return md5(data);
    case DigestAlgorithm::kSha1:
      return sha1(data);
    case DigestAlgorithm::kSha256:
      return sha256(data);
    case DigestAlgorithm::kSha384:
      return sha512_family(data, kSha384Init, 6);
    case DigestAlgorithm::kSha512:
      return sha512_family(data, kSha512Init, 8);
  }
  return {};
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                      (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                      std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) n |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // Padding ends the data: strip it, then check it was of a legal length.
  std::size_t end = text.size();
  std::size_t padding = 0;
  while (end > 0 && text[end - 1] == '=' && padding < 2) {
    --end;
    ++padding;
  }
  std::string_view body = text.substr(0, end);
  if (body.size() % 4 == 1) return std::nullopt;
  if (padding > 0 && (body.size() + padding) % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(body.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : body) {
    int d = base64_digit(c);
    if (d < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace stepwise::states
