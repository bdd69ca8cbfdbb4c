#include "server/filter/filter.h"

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::server {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kVendor[] = "cfbff0d1-9375-5685-968c-48ce8b15ae17";
constexpr char kClass[] = "ad06a868-7abd-56fa-938b-9aa0b273ccf9";

// Online behind gateway gw-7 in the EU, one image behind.
FilterableDevice Gateway() {
  FilterableDevice d;
  d.device_id = "gw-7-0001";
  d.vendor_id = kVendor;
  d.class_id = kClass;
  d.online = true;
  d.installed_sequence = 41;
  d.installed_version = "1.9.0";
  d.installed_slot = "a";
  d.installed_sha256 = "aa11";
  d.installed_component = "rootfs";
  d.attributes = {{"region", "eu"}, {"gateway", "gw-7"}};
  return d;
}

// Offline in the US, up to date, no gateway attribute.
FilterableDevice Sensor() {
  FilterableDevice d;
  d.device_id = "a";
  d.vendor_id = kVendor;
  d.class_id = kClass;
  d.online = false;
  d.installed_sequence = 42;
  d.installed_version = "2.0.0";
  d.installed_slot = "b";
  d.installed_component = "rootfs";
  d.attributes = {{"region", "us"}};
  return d;
}

// Registered, never connected: defaults everywhere, no attributes.
FilterableDevice Blank() {
  FilterableDevice d;
  d.device_id = "b";
  return d;
}

std::vector<FilterableDevice> AllDevices() {
  return {Gateway(), Sensor(), Blank()};
}

std::string Repeat(absl::string_view text, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) absl::StrAppend(&out, text);
  return out;
}

// `values` comma-separated, as written by a terse operator.
std::string StringList(int values) {
  std::string out = "(";
  for (int i = 0; i < values; ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", "\"a\"");
  }
  return absl::StrCat(out, ")");
}

// ---------------------------------------------------------------------------
// Matches.

struct MatchCase {
  const char* filter;
  bool gateway;
  bool sensor;
  bool blank;
};

class MatchesTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(MatchesTest, MatchesEachDevice) {
  const MatchCase& c = GetParam();
  ASSERT_OK_AND_ASSIGN(DeviceFilter filter, DeviceFilter::Parse(c.filter));
  EXPECT_EQ(filter.Matches(Gateway()), c.gateway) << c.filter;
  EXPECT_EQ(filter.Matches(Sensor()), c.sensor) << c.filter;
  EXPECT_EQ(filter.Matches(Blank()), c.blank) << c.filter;
}

INSTANTIATE_TEST_SUITE_P(
    Expressions, MatchesTest,
    ::testing::Values(
        // The examples operators write.
        MatchCase{"class_id == \"ad06a868-7abd-56fa-938b-9aa0b273ccf9\" and "
                  "attr.region in (\"eu\", \"us\")",
                  true, true, false},
        MatchCase{"not online or installed.sequence < 42", true, true, true},
        MatchCase{"not online or installed.sequence < 41", false, true, true},
        MatchCase{"(attr.gateway == \"gw-7\" or device_id in (\"a\", \"b\")) "
                  "and installed.version != \"2.0.0\"",
                  true, false, true},
        // Empty and whitespace-only filters match every device.
        MatchCase{"", true, true, true},
        MatchCase{" \t\r\n ", true, true, true},
        // Booleans.
        MatchCase{"online", true, false, false},
        MatchCase{"not online", false, true, true},
        MatchCase{"not not online", true, false, false},
        MatchCase{"online == true", true, false, false},
        MatchCase{"online == false", false, true, true},
        MatchCase{"online != true", false, true, true},
        MatchCase{"online in (true)", true, false, false},
        MatchCase{"online not in (true)", false, true, true},
        // Integers.
        MatchCase{"installed.sequence == 42", false, true, false},
        MatchCase{"installed.sequence != 41", false, true, true},
        MatchCase{"installed.sequence < 41", false, false, true},
        MatchCase{"installed.sequence <= 0", false, false, true},
        MatchCase{"installed.sequence > 41", false, true, false},
        MatchCase{"installed.sequence >= 41", true, true, false},
        MatchCase{"installed.sequence in (0, 41)", true, false, true},
        MatchCase{"installed.sequence not in (0, 41)", false, true, false},
        MatchCase{"installed.sequence < 9223372036854775807", true, true,
                  true},
        // Strings, ordered by bytes.
        MatchCase{"device_id == \"a\"", false, true, false},
        MatchCase{"device_id < \"b\"", false, true, false},
        MatchCase{"device_id <= \"b\"", false, true, true},
        MatchCase{"device_id > \"a\"", true, false, true},
        MatchCase{"device_id >= \"gw-7-0001\"", true, false, false},
        MatchCase{"vendor_id == \"cfbff0d1-9375-5685-968c-48ce8b15ae17\"",
                  true, true, false},
        MatchCase{"installed.version > \"1.9.0\"", false, true, false},
        MatchCase{"installed.slot == \"a\"", true, false, false},
        MatchCase{"installed.sha256 == \"\"", false, true, true},
        MatchCase{"installed.component != \"rootfs\"", false, false, true},
        MatchCase{"device_id not in (\"a\", \"b\")", true, false, false},
        // A missing attribute compares as absent.
        MatchCase{"attr.region == \"eu\"", true, false, false},
        MatchCase{"attr.region != \"eu\"", false, true, true},
        MatchCase{"attr.region in (\"eu\", \"us\")", true, true, false},
        MatchCase{"attr.region not in (\"eu\")", false, true, true},
        MatchCase{"attr.region < \"zz\"", true, true, false},
        MatchCase{"attr.region >= \"\"", true, true, false},
        MatchCase{"not attr.region < \"zz\"", false, false, true},
        MatchCase{"attr.gateway != \"gw-7\"", false, true, true},
        MatchCase{"exists(attr.region)", true, true, false},
        MatchCase{"not exists(attr.gateway)", false, true, true},
        // Precedence: not > and > or.
        MatchCase{"online or device_id == \"a\" and installed.slot == \"b\"",
                  true, true, false},
        MatchCase{"(online or device_id == \"a\") and installed.slot == \"b\"",
                  false, true, false},
        MatchCase{"not online and device_id == \"a\"", false, true, false},
        MatchCase{"not (online and device_id == \"a\")", true, true, true},
        MatchCase{"device_id == \"a\" or device_id == \"b\" and online",
                  false, true, false},
        MatchCase{"(device_id == \"a\" or device_id == \"b\") and not online",
                  false, true, true},
        // Whitespace is optional between tokens that cannot run together.
        MatchCase{"installed.sequence==41or(device_id==\"b\")", true, false,
                  true}));

TEST(DeviceFilterTest, DefaultFilterMatchesEverything) {
  DeviceFilter filter;
  for (const FilterableDevice& device : AllDevices()) {
    EXPECT_TRUE(filter.Matches(device));
  }
  EXPECT_EQ(filter.ToString(), "");
}

TEST(DeviceFilterTest, StringsOrderByUnsignedBytes) {
  FilterableDevice device;
  device.attributes = {{"name", "\xc3\xa9"}};  // é, above every ASCII byte
  ASSERT_OK_AND_ASSIGN(DeviceFilter filter,
                       DeviceFilter::Parse("attr.name > \"z\""));
  EXPECT_TRUE(filter.Matches(device));
}

TEST(DeviceFilterTest, EscapesAndUtf8InStrings) {
  FilterableDevice device;
  device.attributes = {{"label", "say \"hi\" \\ \xe2\x82\xac"}};
  ASSERT_OK_AND_ASSIGN(
      DeviceFilter filter,
      DeviceFilter::Parse("attr.label == \"say \\\"hi\\\" \\\\ \xe2\x82\xac\""));
  EXPECT_TRUE(filter.Matches(device));
}

TEST(DeviceFilterTest, SequenceAboveInt64ComparesAsUnsigned) {
  FilterableDevice device;
  device.installed_sequence = uint64_t{1} << 63;
  ASSERT_OK_AND_ASSIGN(
      DeviceFilter filter,
      DeviceFilter::Parse("installed.sequence > 9223372036854775807"));
  EXPECT_TRUE(filter.Matches(device));
}

// ---------------------------------------------------------------------------
// Errors.

struct ErrorCase {
  std::string filter;
  std::string message;
};

class ParseErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrorTest, ReportsOffsetAndReason) {
  EXPECT_THAT(DeviceFilter::Parse(GetParam().filter),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Messages, ParseErrorTest,
    ::testing::Values(
        // Missing values and conditions.
        ErrorCase{"installed.slot ==",
                  "filter: at 17: expected a value after \"==\", found end "
                  "of input"},
        ErrorCase{"installed.sequence > -1",
                  "filter: at 21: expected a value after \">\", found '-'"},
        ErrorCase{"online and",
                  "filter: at 10: expected a field, \"not\", \"exists\" or "
                  "\"(\" after \"and\", found end of input"},
        ErrorCase{"not",
                  "filter: at 3: expected a field, \"not\", \"exists\" or "
                  "\"(\" after \"not\", found end of input"},
        ErrorCase{"()",
                  "filter: at 1: expected a field, \"not\", \"exists\" or "
                  "\"(\" after \"(\", found \")\""},
        ErrorCase{"and online",
                  "filter: at 0: expected a field, \"not\", \"exists\" or "
                  "\"(\", found \"and\""},
        ErrorCase{"@",
                  "filter: at 0: expected a field, \"not\", \"exists\" or "
                  "\"(\", found '@'"},
        ErrorCase{"device_id",
                  "filter: at 9: expected an operator (\"==\", \"!=\", \"<\", "
                  "\"<=\", \">\", \">=\", \"in\" or \"not in\") after "
                  "device_id, found end of input"},
        ErrorCase{"device_id = \"a\"",
                  "filter: at 10: expected an operator (\"==\", \"!=\", "
                  "\"<\", \"<=\", \">\", \">=\", \"in\" or \"not in\") after "
                  "device_id, found '='"},
        ErrorCase{"device_id not (\"a\")",
                  "filter: at 14: expected \"in\" after \"not\", found \"(\""},
        ErrorCase{"device_id in \"a\"",
                  "filter: at 13: expected \"(\" after \"in\", found string "
                  "\"a\""},
        // Strings.
        ErrorCase{"device_id == \"abc",
                  "filter: at 13: expected '\"' to end the string that starts "
                  "here, found end of input"},
        ErrorCase{"device_id == \"a\\n\"",
                  "filter: at 15: expected \\\" or \\\\ after a backslash, "
                  "found 'n'"},
        ErrorCase{"device_id == \"a\\",
                  "filter: at 15: expected \\\" or \\\\ after a backslash, "
                  "found end of input"},
        ErrorCase{"device_id == \"a\tb\"",
                  "filter: at 15: expected a printable character in the "
                  "string, found byte 0x09"},
        ErrorCase{std::string("device_id == \"\0\"", 16),
                  "filter: at 14: expected a printable character in the "
                  "string, found byte 0x00"},
        ErrorCase{"device_id == \"\xff\"",
                  "filter: at 14: expected UTF-8 text in the string, found "
                  "byte 0xFF"},
        ErrorCase{"device_id == \"\xc0\x80\"",  // overlong NUL
                  "filter: at 14: expected UTF-8 text in the string, found "
                  "byte 0xC0"},
        ErrorCase{"device_id == \"\xed\xa0\x80\"",  // surrogate
                  "filter: at 14: expected UTF-8 text in the string, found "
                  "byte 0xED"},
        ErrorCase{"device_id == \"\xe2\x82\"",  // cut short
                  "filter: at 14: expected UTF-8 text in the string, found "
                  "byte 0xE2"},
        // Unknown fields and bad attribute keys.
        ErrorCase{"serial == \"x\"",
                  "filter: at 0: expected a field (device_id, vendor_id, "
                  "class_id, online, installed.sequence, installed.version, "
                  "installed.slot, installed.sha256, installed.component or "
                  "attr.KEY), found \"serial\""},
        ErrorCase{"online and installed.seq < 1",
                  "filter: at 11: expected a field (device_id, vendor_id, "
                  "class_id, online, installed.sequence, installed.version, "
                  "installed.slot, installed.sha256, installed.component or "
                  "attr.KEY), found \"installed.seq\""},
        ErrorCase{"attr.Region == \"eu\"",
                  "filter: at 0: expected an attribute key matching "
                  "[a-z][a-z0-9_]{0,62} after \"attr.\", found \"Region\""},
        ErrorCase{"attr.9lives == \"x\"",
                  "filter: at 0: expected an attribute key matching "
                  "[a-z][a-z0-9_]{0,62} after \"attr.\", found \"9lives\""},
        ErrorCase{"attr.a.b == \"x\"",
                  "filter: at 0: expected an attribute key matching "
                  "[a-z][a-z0-9_]{0,62} after \"attr.\", found \"a.b\""},
        ErrorCase{"attr. == \"x\"",
                  "filter: at 0: expected an attribute key matching "
                  "[a-z][a-z0-9_]{0,62} after \"attr.\", found nothing"},
        ErrorCase{"online or attr." + std::string(64, 'k') + " == \"x\"",
                  "filter: at 10: expected an attribute key matching "
                  "[a-z][a-z0-9_]{0,62} after \"attr.\", found \"" +
                      std::string(40, 'k') + "...\""},
        ErrorCase{"attr.a-b == \"x\"",
                  "filter: at 6: expected an operator (\"==\", \"!=\", \"<\", "
                  "\"<=\", \">\", \">=\", \"in\" or \"not in\") after attr.a, "
                  "found '-'"},
        ErrorCase{"exists(device_id)",
                  "filter: at 7: expected an attribute (attr.KEY) after "
                  "\"exists(\", found \"device_id\""},
        ErrorCase{"exists attr.x",
                  "filter: at 7: expected \"(\" after \"exists\", found "
                  "\"attr.x\""},
        // Type mismatches.
        ErrorCase{"installed.sequence == \"42\"",
                  "filter: at 22: expected an integer after \"==\" "
                  "(installed.sequence is an integer field), found string "
                  "\"42\""},
        ErrorCase{"device_id == 42",
                  "filter: at 13: expected a string after \"==\" (device_id "
                  "is a string field), found integer 42"},
        ErrorCase{"device_id == true",
                  "filter: at 13: expected a string after \"==\" (device_id "
                  "is a string field), found \"true\""},
        ErrorCase{"online == \"yes\"",
                  "filter: at 10: expected true or false after \"==\" "
                  "(online is a boolean field), found string \"yes\""},
        ErrorCase{"online < true",
                  "filter: at 7: expected \"==\", \"!=\", \"in\" or \"not in\" "
                  "after online (a boolean field), found \"<\""},
        ErrorCase{"online >= false",
                  "filter: at 7: expected \"==\", \"!=\", \"in\" or \"not in\" "
                  "after online (a boolean field), found \">=\""},
        ErrorCase{"attr.region in (\"eu\", 1)",
                  "filter: at 22: expected a string after \",\" (attr.region "
                  "is a string field), found integer 1"},
        ErrorCase{"installed.sequence not in (\"1\")",
                  "filter: at 27: expected an integer after \"(\" "
                  "(installed.sequence is an integer field), found string "
                  "\"1\""},
        // Parentheses.
        ErrorCase{"(online or device_id == \"a\"",
                  "filter: at 27: expected \"and\", \"or\" or \")\" to close "
                  "the \"(\" at 0, found end of input"},
        ErrorCase{"online and ((online) or online",
                  "filter: at 30: expected \"and\", \"or\" or \")\" to close "
                  "the \"(\" at 11, found end of input"},
        ErrorCase{"device_id in (\"a\", \"b\"",
                  "filter: at 22: expected \",\" or \")\" in the list, found "
                  "end of input"},
        ErrorCase{"exists(attr.x",
                  "filter: at 13: expected \")\" after \"exists(attr.x\", "
                  "found end of input"},
        // Trailing tokens.
        ErrorCase{"online)",
                  "filter: at 6: expected \"and\", \"or\" or end of input, "
                  "found \")\""},
        ErrorCase{"online online",
                  "filter: at 7: expected \"and\", \"or\" or end of input, "
                  "found \"online\""},
        ErrorCase{"online AND online",
                  "filter: at 7: expected \"and\", \"or\" or end of input, "
                  "found \"AND\""},
        ErrorCase{"device_id == \"a\" \"b\"",
                  "filter: at 17: expected \"and\", \"or\" or end of input, "
                  "found string \"b\""},
        ErrorCase{"online \"" + std::string(50, 'a') + "\"",
                  "filter: at 7: expected \"and\", \"or\" or end of input, "
                  "found string \"" +
                      std::string(39, 'a') + "..."},
        // Lists.
        ErrorCase{"device_id in ()",
                  "filter: at 14: expected at least one value in the list, "
                  "found \")\""},
        ErrorCase{"device_id in (\"a\",)",
                  "filter: at 18: expected a value after \",\", found \")\""},
        ErrorCase{"device_id in " + StringList(1001),
                  "filter: at 4014: expected at most 1000 values in the "
                  "list, found more"},
        // Integers.
        ErrorCase{"installed.sequence > 9223372036854775808",
                  "filter: at 21: expected an integer up to "
                  "9223372036854775807, found 9223372036854775808"},
        ErrorCase{"installed.sequence > 99999999999999999999999999999999999999"
                  "9999999",
                  "filter: at 21: expected an integer up to "
                  "9223372036854775807, found "
                  "9999999999999999999999999999999999999999..."},
        // Limits on size and nesting.
        ErrorCase{std::string(64 + 1, '(') + "online" + std::string(65, ')'),
                  "filter: at 64: expected at most 64 levels of nesting, "
                  "found \"(\" at level 65"},
        ErrorCase{Repeat("not ", 65) + "online",
                  "filter: at 256: expected at most 64 levels of nesting, "
                  "found \"not\" at level 65"},
        ErrorCase{Repeat("not (", 32) + "not online" + std::string(32, ')'),
                  "filter: at 160: expected at most 64 levels of nesting, "
                  "found \"not\" at level 65"},
        ErrorCase{std::string(4097, ' '),
                  "filter: at 4096: expected at most 4096 bytes, found "
                  "4097"}));

TEST(DeviceFilterTest, AcceptsInputsAtEachLimit) {
  // 4096 bytes.
  std::string longest = "device_id == \"\"";
  longest.insert(14, std::string(kMaxFilterLength - longest.size(), 'x'));
  ASSERT_EQ(longest.size(), kMaxFilterLength);
  EXPECT_OK(DeviceFilter::Parse(longest));
  // 64 levels of nesting, either kind.
  EXPECT_OK(DeviceFilter::Parse(std::string(64, '(') + "online" +
                                std::string(64, ')')));
  EXPECT_OK(DeviceFilter::Parse(Repeat("not ", 64) + "online"));
  EXPECT_OK(DeviceFilter::Parse(Repeat("not (", 32) + "online" +
                                std::string(32, ')')));
  // Nesting is depth, not count: many groups side by side are fine.
  EXPECT_OK(DeviceFilter::Parse(
      absl::StrCat(Repeat("(online) or ", 100), "online")));
  // 1000 values in a list.
  EXPECT_OK(DeviceFilter::Parse("device_id in " + StringList(1000)));
  // A 63-character attribute key and the largest integer.
  EXPECT_OK(DeviceFilter::Parse("exists(attr.a" + std::string(62, '9') + ")"));
  EXPECT_OK(DeviceFilter::Parse("installed.sequence < 9223372036854775807"));
}

TEST(DeviceFilterTest, KeywordsAreCaseSensitive) {
  EXPECT_THAT(DeviceFilter::Parse("NOT online"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("found \"NOT\"")));
  EXPECT_THAT(DeviceFilter::Parse("online == TRUE"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "filter: at 10: expected a value after \"==\", found "
                       "\"TRUE\""));
}

// ---------------------------------------------------------------------------
// ToString.

struct TextCase {
  const char* filter;
  const char* normalized;
};

class ToStringTest : public ::testing::TestWithParam<TextCase> {};

TEST_P(ToStringTest, NormalizesAndRoundTrips) {
  ASSERT_OK_AND_ASSIGN(DeviceFilter filter,
                       DeviceFilter::Parse(GetParam().filter));
  EXPECT_EQ(filter.ToString(), GetParam().normalized);

  ASSERT_OK_AND_ASSIGN(DeviceFilter again,
                       DeviceFilter::Parse(filter.ToString()));
  EXPECT_EQ(again.ToString(), filter.ToString());
  std::vector<std::string> params, params_again;
  EXPECT_EQ(again.ToSql(1, &params_again), filter.ToSql(1, &params));
  EXPECT_EQ(params_again, params);
  for (const FilterableDevice& device : AllDevices()) {
    EXPECT_EQ(again.Matches(device), filter.Matches(device));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Forms, ToStringTest,
    ::testing::Values(
        TextCase{"", ""},
        TextCase{"   ", ""},
        TextCase{"  class_id==\"ad06\"   and attr.region in(\"eu\",\"us\") ",
                 "class_id == \"ad06\" and attr.region in (\"eu\", \"us\")"},
        TextCase{"not online or installed.sequence < 42",
                 "not online or installed.sequence < 42"},
        TextCase{"((online))", "online"},
        TextCase{"not(online)", "not online"},
        TextCase{"not not online", "not not online"},
        TextCase{"online == true", "online == true"},
        TextCase{"(not online) and (device_id == \"a\")",
                 "not online and device_id == \"a\""},
        TextCase{"(online or device_id == \"a\") or device_id == \"b\"",
                 "online or device_id == \"a\" or device_id == \"b\""},
        TextCase{"online and (device_id == \"a\" and device_id == \"b\")",
                 "online and device_id == \"a\" and device_id == \"b\""},
        TextCase{"(online or device_id == \"a\") and installed.slot == \"b\"",
                 "(online or device_id == \"a\") and installed.slot == \"b\""},
        TextCase{"online or (device_id == \"a\" and installed.slot == \"b\")",
                 "online or device_id == \"a\" and installed.slot == \"b\""},
        TextCase{"not (online and device_id == \"a\")",
                 "not (online and device_id == \"a\")"},
        TextCase{"not (online or not (exists(attr.x) and online))",
                 "not (online or not (exists(attr.x) and online))"},
        TextCase{"installed.sequence<007", "installed.sequence < 7"},
        TextCase{"installed.sequence in (0,00,1)",
                 "installed.sequence in (0, 0, 1)"},
        TextCase{"device_id == \"q\\\"uo\\\\te\"",
                 "device_id == \"q\\\"uo\\\\te\""},
        TextCase{"exists ( attr.region )", "exists(attr.region)"},
        TextCase{"device_id not in (\"a\")", "device_id not in (\"a\")"},
        TextCase{"not device_id in (\"a\")", "not device_id in (\"a\")"},
        TextCase{"attr.gw_2 >= \"x\"", "attr.gw_2 >= \"x\""},
        TextCase{"online\n==\tfalse", "online == false"}));

TEST(DeviceFilterTest, ToStringStaysWithinTheLengthLimit) {
  // A terse filter at the limit whose spaced-out form would be longer.
  std::string terse = "device_id in " + StringList(1000) +
                      "and installed.sequence==1or online";
  ASSERT_LE(terse.size(), kMaxFilterLength);
  ASSERT_OK_AND_ASSIGN(DeviceFilter filter, DeviceFilter::Parse(terse));
  std::string text = filter.ToString();
  EXPECT_EQ(text, "device_id in" + StringList(1000) +
                      "and installed.sequence==1or online");
  ASSERT_OK_AND_ASSIGN(DeviceFilter again, DeviceFilter::Parse(text));
  EXPECT_EQ(again.ToString(), text);
}

// ---------------------------------------------------------------------------
// ToSql.

struct SqlCase {
  const char* filter;
  const char* sql;
  std::vector<std::string> params;
};

class ToSqlTest : public ::testing::TestWithParam<SqlCase> {};

TEST_P(ToSqlTest, WritesPlaceholdersAndParameters) {
  ASSERT_OK_AND_ASSIGN(DeviceFilter filter,
                       DeviceFilter::Parse(GetParam().filter));
  std::vector<std::string> params;
  EXPECT_EQ(filter.ToSql(1, &params), GetParam().sql);
  EXPECT_EQ(params, GetParam().params);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ToSqlTest,
    ::testing::Values(
        SqlCase{"", "TRUE", {}},
        SqlCase{"not online or installed.sequence < 42",
                "(NOT (online) OR installed_sequence < $1::bigint)",
                {"42"}},
        SqlCase{"(attr.gateway == \"gw-7\" or device_id in (\"a\", \"b\")) "
                "and installed.version != \"2.0.0\"",
                "((attributes @> jsonb_build_object($1::text, $2::text) OR "
                "device_id IN ($3::text, $4::text)) AND "
                "installed_version <> $5::text)",
                {"gateway", "gw-7", "a", "b", "2.0.0"}},
        SqlCase{"online == false", "online = $1::boolean", {"false"}},
        SqlCase{"online not in (true)", "online NOT IN ($1::boolean)",
                {"true"}},
        SqlCase{"installed.sequence not in (1, 2)",
                "installed_sequence NOT IN ($1::bigint, $2::bigint)",
                {"1", "2"}},
        SqlCase{"installed.sequence >= 9223372036854775807",
                "installed_sequence >= $1::bigint",
                {"9223372036854775807"}},
        SqlCase{"vendor_id == \"v\" and installed.slot != \"a\" and "
                "installed.sha256 == \"h\" and installed.component == \"c\"",
                "(vendor_id = $1::text AND installed_slot <> $2::text AND "
                "installed_sha256 = $3::text AND "
                "installed_component = $4::text)",
                {"v", "a", "h", "c"}},
        // Strings order by bytes whatever the database collation.
        SqlCase{"device_id >= \"m\"", "device_id COLLATE \"C\" >= $1::text",
                {"m"}},
        // Attributes: containment for the GIN index, never NULL.
        SqlCase{"attr.region == \"eu\"",
                "attributes @> jsonb_build_object($1::text, $2::text)",
                {"region", "eu"}},
        SqlCase{"attr.region != \"eu\"",
                "NOT (attributes @> jsonb_build_object($1::text, $2::text))",
                {"region", "eu"}},
        SqlCase{"attr.region in (\"eu\", \"us\")",
                "(attributes @> jsonb_build_object($1::text, $2::text) OR "
                "attributes @> jsonb_build_object($1::text, $3::text))",
                {"region", "eu", "us"}},
        SqlCase{"attr.region not in (\"eu\")",
                "NOT (attributes @> jsonb_build_object($1::text, $2::text))",
                {"region", "eu"}},
        SqlCase{"attr.region < \"m\"",
                "COALESCE((attributes ->> $1::text) COLLATE \"C\" < $2::text, "
                "FALSE)",
                {"region", "m"}},
        SqlCase{"not exists(attr.region)",
                "NOT ((attributes -> $1::text) IS NOT NULL)",
                {"region"}}));

TEST(DeviceFilterTest, ToSqlNumbersFromFirstParamAndAppends) {
  ASSERT_OK_AND_ASSIGN(
      DeviceFilter filter,
      DeviceFilter::Parse(absl::StrCat("class_id == \"", kClass,
                                       "\" and attr.region in (\"eu\", "
                                       "\"us\")")));
  std::vector<std::string> params = {"tenant", "limit"};
  EXPECT_EQ(filter.ToSql(3, &params),
            "(class_id = $3::text AND "
            "(attributes @> jsonb_build_object($4::text, $5::text) OR "
            "attributes @> jsonb_build_object($4::text, $6::text)))");
  EXPECT_THAT(params,
              ElementsAre("tenant", "limit", kClass, "region", "eu", "us"));

  std::vector<std::string> untouched = {"tenant"};
  EXPECT_EQ(DeviceFilter().ToSql(2, &untouched), "TRUE");
  EXPECT_THAT(untouched, ElementsAre("tenant"));
}

// Every value reaches PostgreSQL as a parameter; the SQL text holds only
// column names, operators, casts and placeholders.
TEST(DeviceFilterTest, ToSqlNeverSplicesValues) {
  const std::string hostile = "x'); DROP TABLE devices; --";
  const std::string quoted = "\"x'); DROP TABLE devices; --\"";
  const std::vector<std::string> filters = {
      "device_id == " + quoted,
      "device_id != " + quoted,
      "device_id < " + quoted,
      "device_id in (\"a\", " + quoted + ")",
      "attr.region == " + quoted,
      "attr.region != " + quoted,
      "attr.region >= " + quoted,
      "attr.region not in (" + quoted + ", \"b\")",
      "not (exists(attr.region) or installed.version == " + quoted + ")",
  };
  // After dropping COLLATE "C": identifiers, placeholders with casts,
  // operators, parentheses and commas only.
  const std::regex allowed(R"([A-Za-z_ ]|\$[0-9]+::(text|bigint|boolean)|)"
                           R"(@>|->>|->|<>|<=|>=|[=<>(),])");
  for (const std::string& text : filters) {
    ASSERT_OK_AND_ASSIGN(DeviceFilter filter, DeviceFilter::Parse(text));
    std::vector<std::string> params;
    std::string sql = filter.ToSql(1, &params);
    EXPECT_THAT(sql, Not(HasSubstr("DROP"))) << text;
    EXPECT_THAT(sql, Not(HasSubstr("'"))) << text;
    EXPECT_THAT(sql, Not(HasSubstr(";"))) << text;
    EXPECT_THAT(params, ::testing::Contains(hostile)) << text;
    std::string rest = absl::StrReplaceAll(sql, {{"COLLATE \"C\"", ""}});
    EXPECT_EQ(std::regex_replace(rest, allowed, ""), "") << sql;
  }
}

TEST(DeviceFilterTest, ToSqlPassesAttributeKeysAsParameters) {
  ASSERT_OK_AND_ASSIGN(
      DeviceFilter filter,
      DeviceFilter::Parse("attr.some_key == \"v\" or exists(attr.other)"));
  std::vector<std::string> params;
  std::string sql = filter.ToSql(1, &params);
  EXPECT_THAT(sql, Not(HasSubstr("some_key")));
  EXPECT_THAT(sql, Not(HasSubstr("other")));
  EXPECT_THAT(params, ElementsAre("some_key", "v", "other"));
}

}  // namespace
}  // namespace ota::server
