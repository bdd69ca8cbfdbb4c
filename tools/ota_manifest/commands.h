// The commands of ota-manifest, callable from main() and from tests.
//
// Each returns the process exit code and writes what a person reads to
// `out` and errors to `err`:
//   0  success (verify: the manifest is accepted)
//   1  verify: the manifest is rejected; the reason is printed
//   2  usage error or bad input (a missing or wrong field, named)
//   3  a file could not be read or written, or a crypto failure
#ifndef OTA_TOOLS_OTA_MANIFEST_COMMANDS_H_
#define OTA_TOOLS_OTA_MANIFEST_COMMANDS_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace ota::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitIo = 3;

struct InitOptions {
  std::string domain;             // -d
  std::string model;              // -m
  std::string dir = ".";          // --dir
  int validity_days = 3650;       // --validity-days
  bool force = false;             // --force: replace an existing key
  int64_t now_unix = 0;           // clock, for tests; 0 = real time
};

struct CreateOptions {
  std::string input;              // -i
  std::string output;             // -o
  std::string defaults;           // --defaults (default ./.ota_manifest.json)
  std::string key;                // -k, overrides input and defaults
  int64_t now_unix = 0;
};

struct VerifyOptions {
  std::string manifest;                    // -m
  std::vector<std::string> certificates;   // -c, repeatable
  std::string defaults;                    // --defaults
  std::string payload;                     // --payload
  std::string vendor_id, class_id;         // --vendor-id, --class-id
  std::string device_id;                   // --device-id
  uint64_t installed_sequence = 0;         // --installed-sequence
  std::string installed_sha256;            // --installed-sha256 (hex)
  uint64_t slot_size = 0;                  // --slot-size
  uint32_t threshold = 1;                  // --threshold
  int64_t now_unix = 0;                    // --now
};

struct ShowOptions {
  std::string manifest;  // -m
  bool json = false;     // --json
};

struct KeyListOptions {
  std::vector<std::string> root_keys;     // --root-key (PEM private keys)
  std::vector<std::string> certificates;  // -c / --certificate (update certificates)
  uint64_t version = 0;                   // --version
  uint32_t threshold = 1;                 // --threshold
  int64_t expires_unix = 0;               // --expires-at
  std::string output;                     // -o
  int64_t now_unix = 0;                   // --now
};

int RunInit(const InitOptions& options, std::ostream& out, std::ostream& err);
int RunKeyList(const KeyListOptions& options, std::ostream& out, std::ostream& err);
int RunCreate(const CreateOptions& options, std::ostream& out, std::ostream& err);
int RunVerify(const VerifyOptions& options, std::ostream& out, std::ostream& err);
int RunShow(const ShowOptions& options, std::ostream& out, std::ostream& err);

// Parses argv (after the program name) and runs the command. Prints usage
// and returns kExitUsage on bad flags.
int Main(const std::vector<std::string>& args, std::ostream& out,
         std::ostream& err);

}  // namespace ota::tools

#endif  // OTA_TOOLS_OTA_MANIFEST_COMMANDS_H_
