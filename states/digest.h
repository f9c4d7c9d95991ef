// Message digests and Base64, as States.Hash, States.Base64Encode and
// States.Base64Decode need them. Self-contained (no OpenSSL) so that states/
// has no dependency beyond Boost.JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace stepwise::states {

enum class DigestAlgorithm { kMd5, kSha1, kSha256, kSha384, kSha512 };

// Parses AWS's algorithm names: "MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512".
std::optional<DigestAlgorithm> parse_digest_algorithm(std::string_view name);

// The digest of data, as lowercase hexadecimal.
std::string hex_digest(DigestAlgorithm algorithm, std::string_view data);

// Standard Base64 (RFC 4648 alphabet) with "=" padding.
std::string base64_encode(std::string_view bytes);

// Decodes standard Base64. Padding is optional, as for Java's basic decoder;
// any character outside the alphabet, misplaced padding or a dangling single
// character yields nullopt.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace stepwise::states
