// Hard limits and defaults of the manifest format, shared by signer, parser
// and devices. Each limit exists so that a hostile manifest cannot make a
// device allocate, hash or loop without bound.
#ifndef OTA_COMMON_MANIFEST_LIMITS_H_
#define OTA_COMMON_MANIFEST_LIMITS_H_

#include <cstddef>
#include <cstdint>

namespace ota::common {

// The Manifest.format_version this code writes and accepts.
inline constexpr uint32_t kManifestFormatVersion = 1;

// Default payload chunk: 1 MiB.
inline constexpr uint32_t kDefaultChunkSize = 1 << 20;

// Smallest and largest chunk a manifest may declare. The lower bound keeps
// the chunk list short; the upper bound keeps a device's re-fetch after an
// interruption small.
inline constexpr uint32_t kMinChunkSize = 4 << 10;
inline constexpr uint32_t kMaxChunkSize = 64 << 20;

// Largest encoded SignedManifest accepted. 256 KiB holds the chunk list of a
// 4 GiB image at 1 MiB chunks with room to spare; the length is checked
// before parsing so an endless stream of bytes is refused early.
inline constexpr size_t kMaxSignedManifestSize = 256 << 10;

// At most this many signatures are examined.
inline constexpr int kMaxSignatures = 8;

// At most this many payload URIs, device ids and certificate references.
inline constexpr int kMaxPayloadUris = 16;
inline constexpr int kMaxDeviceIds = 4096;
inline constexpr int kMaxCertificateReferences = 8;

// Length limits on strings, in bytes.
inline constexpr size_t kMaxUriLength = 2048;
inline constexpr size_t kMaxTextLength = 4096;

// Length of vendor and class UUIDs and of SHA-256 digests, in bytes.
inline constexpr size_t kUuidSize = 16;
inline constexpr size_t kDigestSize = 32;

}  // namespace ota::common

#endif  // OTA_COMMON_MANIFEST_LIMITS_H_
