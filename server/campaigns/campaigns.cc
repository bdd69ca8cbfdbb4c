#include "server/campaigns/campaigns.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/log.h"
#include "common/crypto/bytes.h"
#include "server/cluster/events.h"
#include "server/filter/filter.h"

namespace ota::server {
namespace {

// "ACTIVE" for CAMPAIGN_STATE_ACTIVE.
std::string StateShortName(ota::v1::CampaignState state) {
  return ota::v1::CampaignState_Name(state).substr(sizeof("CAMPAIGN_STATE_") - 1);
}

}  // namespace
namespace {

using ota::v1::Campaign;
using ota::v1::CampaignState;
using ota::v1::DeploymentState;

constexpr char kOpenStates[] = "(1, 2, 4, 5, 6, 7, 8)";
constexpr char kFailedStates[] = "(3, 10, 11)";
constexpr char kCampaignColumns[] =
    "campaign_id, name, description, manifest_id, device_filter, policy, state, state_reason, "
    "current_wave, wave_started_unix, created_unix, started_unix, finished_unix";

std::string NewId() {
  absl::BitGen gen;
  std::string raw(16, '\0');
  for (char& c : raw) c = static_cast<char>(absl::Uniform<int>(gen, 0, 256));
  return common::HexEncode(raw);
}

bool IsFinal(CampaignState s) {
  return s == ota::v1::CAMPAIGN_STATE_COMPLETED || s == ota::v1::CAMPAIGN_STATE_STOPPED ||
         s == ota::v1::CAMPAIGN_STATE_AUTO_STOPPED;
}

Campaign CampaignFromRow(const pqxx::row& r) {
  Campaign c;
  c.set_campaign_id(r["campaign_id"].c_str());
  c.set_name(r["name"].c_str());
  c.set_description(r["description"].c_str());
  c.set_manifest_id(r["manifest_id"].c_str());
  c.set_device_filter(r["device_filter"].c_str());
  c.mutable_policy()->ParseFromString(pqxx::binarystring(r["policy"]).str());
  c.set_state(static_cast<CampaignState>(r["state"].as<int>()));
  c.set_state_reason(r["state_reason"].c_str());
  c.set_current_wave(r["current_wave"].as<uint32_t>());
  c.set_created_unix(r["created_unix"].as<int64_t>());
  c.set_started_unix(r["started_unix"].as<int64_t>());
  c.set_finished_unix(r["finished_unix"].as<int64_t>());
  return c;
}

// The devices a campaign targets, as SQL over `devices`.
struct Target {
  std::string where;
  std::vector<std::string> params;  // $1..$N
};

absl::StatusOr<Target> TargetOf(pqxx::work& txn, const Campaign& c) {
  pqxx::result m = txn.exec_params(
      "SELECT vendor_id, class_id, signed_manifest FROM manifests WHERE manifest_id = $1",
      c.manifest_id());
  if (m.empty()) return absl::NotFoundError(absl::StrCat("manifest ", c.manifest_id(), " does not exist"));
  absl::StatusOr<DeviceFilter> filter = DeviceFilter::Parse(c.device_filter());
  if (!filter.ok()) return filter.status();
  Target t;
  t.params = {m[0]["vendor_id"].c_str(), m[0]["class_id"].c_str()};
  std::string filter_sql = filter->ToSql(3, &t.params);
  t.where = absl::StrCat("devices.vendor_id = $1 AND devices.class_id = $2 AND (", filter_sql, ")");
  ota::v1::SignedManifest sm;
  ota::v1::Manifest manifest;
  if (sm.ParseFromString(pqxx::binarystring(m[0]["signed_manifest"]).str()) &&
      manifest.ParseFromString(sm.manifest()) && manifest.device_ids_size() > 0) {
    std::vector<std::string> quoted;
    for (const std::string& id : manifest.device_ids()) {
      // Array literal elements are quoted and escaped for the text[] cast.
      std::string e = "\"";
      for (char ch : id) {
        if (ch == '"' || ch == '\\') e.push_back('\\');
        e.push_back(ch);
      }
      quoted.push_back(e + "\"");
    }
    t.params.push_back(absl::StrCat("{", absl::StrJoin(quoted, ","), "}"));
    absl::StrAppend(&t.where, " AND devices.device_id = ANY($", t.params.size(), "::text[])");
  }
  return t;
}

// Appends `more` to a parameter list and returns the number of its first.
size_t AddParams(std::vector<std::string>* params, std::initializer_list<std::string> more) {
  size_t first = params->size() + 1;
  for (const auto& p : more) params->push_back(p);
  return first;
}

absl::Status Record(pqxx::work& txn, const std::string& id, CampaignState from, CampaignState to,
                    const std::string& reason, int64_t now) {
  txn.exec_params(
      "INSERT INTO campaign_transitions (campaign_id, from_state, to_state, reason, at_unix) "
      "VALUES ($1, $2, $3, $4, $5)",
      id, static_cast<int>(from), static_cast<int>(to), reason, now);
  return absl::OkStatus();
}

// Fills c->stats and c->conflicts.
absl::Status FillStats(pqxx::work& txn, Campaign* c) {
  ota::v1::CampaignStats* st = c->mutable_stats();
  std::map<int, uint64_t> by_state;
  std::map<uint32_t, std::map<int, uint64_t>> by_wave;
  std::map<uint32_t, int64_t> wave_started_ms;
  uint64_t assigned = 0, failed = 0;
  for (const auto& r : txn.exec_params(
           "SELECT wave, state, count(*), min(created_ms) FROM deployments WHERE campaign_id = $1 "
           "GROUP BY wave, state ORDER BY wave, state",
           c->campaign_id())) {
    uint32_t wave = r[0].as<uint32_t>();
    int state = r[1].as<int>();
    uint64_t n = r[2].as<uint64_t>();
    // A wave started when its first deployments were chosen.
    const int64_t created = r[3].as<int64_t>();
    auto [it, fresh] = wave_started_ms.emplace(wave, created);
    if (!fresh) it->second = std::min(it->second, created);
    by_state[state] += n;
    by_wave[wave][state] += n;
    assigned += n;
    if (state == 3 || state == 10 || state == 11) failed += n;
  }
  for (const auto& [state, n] : by_state) {
    auto* sc = st->add_state_counts();
    sc->set_state(static_cast<DeploymentState>(state));
    sc->set_count(n);
  }
  for (const auto& [wave, states] : by_wave) {
    auto* ws = st->add_waves();
    ws->set_wave(wave);
    ws->set_started_unix(wave_started_ms[wave] / 1000);
    uint64_t total = 0, ok = 0;
    for (const auto& [state, n] : states) {
      auto* sc = ws->add_state_counts();
      sc->set_state(static_cast<DeploymentState>(state));
      sc->set_count(n);
      total += n;
      if (state == 9 || state == 12) ok += n;
    }
    ws->set_device_count(total);
    ws->set_success_ratio(total == 0 ? 0 : static_cast<double>(ok) / total);
  }
  for (const auto& r : txn.exec_params(
           absl::StrCat("SELECT reason, count(*) FROM deployments WHERE campaign_id = $1 "
                        "AND state IN ", kFailedStates, " GROUP BY reason ORDER BY 2 DESC, 1"),
           c->campaign_id())) {
    auto* rc = st->add_failure_reasons();
    rc->set_reason(static_cast<ota::v1::ReasonCode>(r[0].as<int>()));
    rc->set_count(r[1].as<uint64_t>());
  }
  st->set_failure_ratio(assigned == 0 ? 0 : static_cast<double>(failed) / assigned);
  if (!IsFinal(c->state())) {
    absl::StatusOr<Target> t = TargetOf(txn, *c);
    if (!t.ok()) return t.status();
    std::vector<std::string> params = t->params;
    size_t cid = AddParams(&params, {c->campaign_id()});
    pqxx::result unassigned = txn.exec_params(
        absl::StrCat("SELECT count(*) FILTER (WHERE o.device_id IS NULL), "
                     "count(*) FILTER (WHERE o.device_id IS NOT NULL) FROM devices "
                     "LEFT JOIN deployments o ON o.device_id = devices.device_id AND o.state IN ",
                     kOpenStates, " WHERE ", t->where,
                     " AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.campaign_id = $", cid,
                     " AND d.device_id = devices.device_id)"),
        pqxx::prepare::make_dynamic_params(params));
    st->set_awaiting_wave(unassigned[0][0].as<uint64_t>());
    st->set_held_elsewhere(unassigned[0][1].as<uint64_t>());
    if (st->held_elsewhere() > 0) {
      for (const auto& r : txn.exec_params(
               absl::StrCat("SELECT o.campaign_id, c.name, count(*), "
                            "(array_agg(devices.device_id ORDER BY devices.device_id))[1:10] "
                            "FROM devices JOIN deployments o ON o.device_id = devices.device_id "
                            "AND o.state IN ", kOpenStates,
                            " JOIN campaigns c ON c.campaign_id = o.campaign_id WHERE ", t->where,
                            " AND o.campaign_id <> $", cid,
                            " AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.campaign_id = $",
                            cid, " AND d.device_id = devices.device_id) GROUP BY 1, 2"),
               pqxx::prepare::make_dynamic_params(params))) {
        auto* conflict = c->add_conflicts();
        conflict->set_campaign_id(r[0].c_str());
        conflict->set_campaign_name(r[1].c_str());
        conflict->set_device_count(r[2].as<uint64_t>());
        auto arr = r[3].as_array();
        for (auto e = arr.get_next(); e.first != pqxx::array_parser::done; e = arr.get_next()) {
          if (e.first == pqxx::array_parser::string_value) conflict->add_sample_device_ids(e.second);
        }
      }
    }
  }
  st->set_total_targeted(assigned + st->awaiting_wave() + st->held_elsewhere());
  return absl::OkStatus();
}

absl::Status CheckPolicy(const ota::v1::RolloutPolicy& p) {
  for (int i = 0; i < p.waves_size(); ++i) {
    const ota::v1::Wave& w = p.waves(i);
    if (w.size_case() == ota::v1::Wave::kDeviceCount && w.device_count() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("policy.waves[", i, "].device_count is zero"));
    }
    if (w.size_case() == ota::v1::Wave::kPercent && !(w.percent() > 0 && w.percent() <= 100)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy.waves[", i, "].percent ", w.percent(), " is not in (0, 100]"));
    }
    if (w.size_case() == ota::v1::Wave::SIZE_NOT_SET) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy.waves[", i, "] sets neither device_count nor percent"));
    }
  }
  if (p.success_ratio() < 0 || p.success_ratio() > 1) {
    return absl::InvalidArgumentError("policy.success_ratio is not in [0, 1]");
  }
  if (p.failure_ratio() < 0 || p.failure_ratio() > 1) {
    return absl::InvalidArgumentError("policy.failure_ratio is not in [0, 1]");
  }
  if (p.wave_soak_seconds() < 0) {
    return absl::InvalidArgumentError("policy.wave_soak_seconds is negative");
  }
  if (p.has_download_cap()) {
    const std::string& a = p.download_cap().attribute();
    bool ok = !a.empty() && a.size() <= 63 && a[0] >= 'a' && a[0] <= 'z';
    for (char ch : a) ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "policy.download_cap.attribute \"", a, "\" does not match [a-z][a-z0-9_]{0,62}"));
    }
    if (p.download_cap().max_concurrent() == 0) {
      return absl::InvalidArgumentError("policy.download_cap.max_concurrent is zero");
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsTerminal(DeploymentState s) {
  return s == ota::v1::DEPLOYMENT_STATE_REJECTED || s == ota::v1::DEPLOYMENT_STATE_SUCCEEDED ||
         s == ota::v1::DEPLOYMENT_STATE_FAILED || s == ota::v1::DEPLOYMENT_STATE_ROLLED_BACK ||
         s == ota::v1::DEPLOYMENT_STATE_SKIPPED || s == ota::v1::DEPLOYMENT_STATE_CANCELLED;
}

// ------------------------------------------------------------- store

absl::StatusOr<Campaign> CampaignStore::Create(const ota::v1::CreateCampaignRequest& r) {
  if (r.name().empty()) return absl::InvalidArgumentError("name is empty");
  if (r.name().size() > 200) return absl::InvalidArgumentError("name is longer than 200 bytes");
  if (r.description().size() > 4096) {
    return absl::InvalidArgumentError("description is longer than 4096 bytes");
  }
  absl::StatusOr<DeviceFilter> filter = DeviceFilter::Parse(r.device_filter());
  if (!filter.ok()) return filter.status();
  if (absl::Status s = CheckPolicy(r.policy()); !s.ok()) return s;
  Campaign out;
  const int64_t now = clock_->NowUnix();
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    if (txn.exec_params("SELECT 1 FROM manifests WHERE manifest_id = $1", r.manifest_id()).empty()) {
      return absl::NotFoundError(absl::StrCat("manifest ", r.manifest_id(), " does not exist"));
    }
    std::string policy = r.policy().SerializeAsString();
    pqxx::result row = txn.exec_params(
        absl::StrCat("INSERT INTO campaigns (campaign_id, name, description, manifest_id, "
                     "device_filter, policy, state, created_unix) "
                     "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ", kCampaignColumns),
        NewId(), r.name(), r.description(), r.manifest_id(), filter->ToString(),
        pqxx::binarystring(policy.data(), policy.size()),
        static_cast<int>(ota::v1::CAMPAIGN_STATE_DRAFT), now);
    out = CampaignFromRow(row[0]);
    return FillStats(txn, &out);
  });
  if (absl::IsAlreadyExists(s)) {
    return absl::AlreadyExistsError(
        absl::StrCat("a campaign named \"", r.name(), "\" is already open"));
  }
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Campaign> CampaignStore::Get(const std::string& id) {
  Campaign out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kCampaignColumns, " FROM campaigns WHERE campaign_id = $1"), id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("campaign ", id, " does not exist"));
    out = CampaignFromRow(r[0]);
    return FillStats(txn, &out);
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<CampaignStore::Watched> CampaignStore::Watch(const std::string& id,
                                                           int64_t after_seq, bool with_stats) {
  Watched out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    out = Watched();
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kCampaignColumns, " FROM campaigns WHERE campaign_id = $1"), id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("campaign ", id, " does not exist"));
    out.campaign = CampaignFromRow(r[0]);
    for (const auto& row : txn.exec_params(
             "SELECT seq, to_state, reason FROM campaign_transitions "
             "WHERE campaign_id = $1 AND seq > $2 ORDER BY seq",
             id, after_seq)) {
      out.transitions.push_back(StateChange{row[0].as<int64_t>(),
                                           static_cast<CampaignState>(row[1].as<int>()),
                                           row[2].c_str()});
    }
    return with_stats ? FillStats(txn, &out.campaign) : absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<Campaign>> CampaignStore::List(const ota::v1::ListCampaignsRequest& r) {
  const int limit = EffectivePageSize(r.page_size());
  std::string states = "{";
  for (int i = 0; i < r.states_size(); ++i) {
    absl::StrAppend(&states, i ? "," : "", static_cast<int>(r.states(i)));
  }
  states += "}";
  Page<Campaign> page;
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    page.items.clear();
    for (const auto& row : txn.exec_params(
             absl::StrCat("SELECT ", kCampaignColumns, " FROM campaigns WHERE campaign_id > $1 "
                          "AND (cardinality($2::int[]) = 0 OR state = ANY($2::int[])) "
                          "AND ($3 = '' OR manifest_id = $3) ORDER BY campaign_id LIMIT $4"),
             r.page_token(), states, r.manifest_id(), limit + 1)) {
      page.items.push_back(CampaignFromRow(row));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  page.Trim(limit, [](const auto& item) { return item.campaign_id(); });
  return page;
}

absl::StatusOr<Campaign> CampaignStore::Transition(const std::string& id,
                                                  const std::vector<CampaignState>& from,
                                                  CampaignState to, const std::string& reason,
                                                  bool cancel_pending) {
  Campaign out;
  std::vector<common::LogField> logged;
  const int64_t now = clock_->NowUnix();
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kCampaignColumns, " FROM campaigns WHERE campaign_id = $1 FOR UPDATE"),
        id);
    if (r.empty()) return absl::NotFoundError(absl::StrCat("campaign ", id, " does not exist"));
    Campaign c = CampaignFromRow(r[0]);
    if (std::find(from.begin(), from.end(), c.state()) == from.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "campaign ", id, " is ", ota::v1::CampaignState_Name(c.state()), "; cannot go to ",
          ota::v1::CampaignState_Name(to)));
    }
    CampaignState target = to;
    if (to == ota::v1::CAMPAIGN_STATE_ACTIVE && c.state() == ota::v1::CAMPAIGN_STATE_DRAFT &&
        c.policy().start_unix() > now) {
      target = ota::v1::CAMPAIGN_STATE_SCHEDULED;
    }
    const bool starting = target == ota::v1::CAMPAIGN_STATE_ACTIVE && c.started_unix() == 0;
    txn.exec_params(
        "UPDATE campaigns SET state = $2, state_reason = $3, "
        "started_unix = CASE WHEN $4 THEN $5 ELSE started_unix END, "
        "finished_unix = CASE WHEN $6 THEN $5 ELSE finished_unix END WHERE campaign_id = $1",
        id, static_cast<int>(target), reason, starting, now, IsFinal(target));
    if (cancel_pending) {
      txn.exec_params(
          "UPDATE deployments SET state = 13, reason = 134, message = $2, updated_ms = $3 "
          "WHERE campaign_id = $1 AND state = 1",
          id, reason.empty() ? "the campaign stopped" : reason, now * 1000);
    }
    if (absl::Status rs = Record(txn, id, c.state(), target, reason, now); !rs.ok()) return rs;
    if (!replica_id_.empty()) {
      ClusterEvents::Publish(txn, replica_id_, ClusterEvents::kCampaignChanged, id);
    }
    logged = {{"campaign_id", id},
              {"from", StateShortName(c.state())},
              {"to", StateShortName(target)},
              {"by", "operator"}};
    if (!reason.empty()) logged.push_back({"reason", reason});
    pqxx::result again = txn.exec_params(
        absl::StrCat("SELECT ", kCampaignColumns, " FROM campaigns WHERE campaign_id = $1"), id);
    out = CampaignFromRow(again[0]);
    return FillStats(txn, &out);
  });
  if (!s.ok()) return s;
  common::LogEvent(common::LogLevel::kInfo, "campaign.state", logged);
  return out;
}

absl::StatusOr<Campaign> CampaignStore::Start(const std::string& id) {
  return Transition(id, {ota::v1::CAMPAIGN_STATE_DRAFT}, ota::v1::CAMPAIGN_STATE_ACTIVE, "", false);
}

absl::StatusOr<Campaign> CampaignStore::Pause(const std::string& id, const std::string& reason) {
  return Transition(id, {ota::v1::CAMPAIGN_STATE_ACTIVE}, ota::v1::CAMPAIGN_STATE_PAUSED, reason,
                    false);
}

absl::StatusOr<Campaign> CampaignStore::Resume(const std::string& id) {
  return Transition(id, {ota::v1::CAMPAIGN_STATE_PAUSED}, ota::v1::CAMPAIGN_STATE_ACTIVE, "", false);
}

absl::StatusOr<Campaign> CampaignStore::Stop(const std::string& id, const std::string& reason) {
  return Transition(id,
                    {ota::v1::CAMPAIGN_STATE_SCHEDULED, ota::v1::CAMPAIGN_STATE_ACTIVE,
                     ota::v1::CAMPAIGN_STATE_PAUSED},
                    ota::v1::CAMPAIGN_STATE_STOPPED, reason, true);
}

absl::StatusOr<Page<ota::v1::DeploymentRecord>> CampaignStore::ListDeployments(
    const ota::v1::ListDeploymentsRequest& r) {
  const int limit = EffectivePageSize(r.page_size());
  std::string states = "{";
  for (int i = 0; i < r.states_size(); ++i) {
    absl::StrAppend(&states, i ? "," : "", static_cast<int>(r.states(i)));
  }
  states += "}";
  Page<ota::v1::DeploymentRecord> page;
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    page.items.clear();
    if (txn.exec_params("SELECT 1 FROM campaigns WHERE campaign_id = $1", r.campaign_id()).empty()) {
      return absl::NotFoundError(absl::StrCat("campaign ", r.campaign_id(), " does not exist"));
    }
    for (const auto& row : txn.exec_params(
             "SELECT deployment_id, campaign_id, device_id, wave, state, reason, message, "
             "bytes_done, bytes_total, updated_ms, created_ms FROM deployments "
             "WHERE campaign_id = $1 AND device_id > $2 "
             "AND (cardinality($3::int[]) = 0 OR state = ANY($3::int[])) "
             "AND ($4 = 0 OR wave = $4) ORDER BY device_id LIMIT $5",
             r.campaign_id(), r.page_token(), states, static_cast<int>(r.wave()), limit + 1)) {
      ota::v1::DeploymentRecord d;
      d.set_deployment_id(row[0].c_str());
      d.set_campaign_id(row[1].c_str());
      d.set_device_id(row[2].c_str());
      d.set_wave(row[3].as<uint32_t>());
      d.set_state(static_cast<DeploymentState>(row[4].as<int>()));
      d.set_reason(static_cast<ota::v1::ReasonCode>(row[5].as<int>()));
      d.set_message(row[6].c_str());
      d.set_bytes_done(row[7].as<uint64_t>());
      d.set_bytes_total(row[8].as<uint64_t>());
      d.set_updated_ms(row[9].as<int64_t>());
      d.set_created_ms(row[10].as<int64_t>());
      page.items.push_back(std::move(d));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  page.Trim(limit, [](const auto& item) { return item.device_id(); });
  return page;
}

// ------------------------------------------------------ device side

absl::StatusOr<ota::v1::Deployment> NextDeployment(Database* db, const std::string& device_id,
                                                   int64_t now_ms) {
  ota::v1::Deployment out;
  bool found = false;
  std::string capped;
  absl::Status s = db->Transact([&](pqxx::work& txn) -> absl::Status {
    pqxx::result r = txn.exec_params(
        "SELECT d.deployment_id, d.campaign_id, m.signed_manifest, d.state, c.policy "
        "FROM deployments d "
        "JOIN campaigns c ON c.campaign_id = d.campaign_id "
        "JOIN manifests m ON m.manifest_id = c.manifest_id "
        "WHERE d.device_id = $1 AND d.state IN (1, 2) AND c.state = 3 "
        "ORDER BY d.created_ms LIMIT 1",
        device_id);
    if (r.empty()) return absl::OkStatus();
    ota::v1::RolloutPolicy policy;
    policy.ParseFromString(pqxx::binarystring(r[0][4]).str());
    const ota::v1::DownloadCap& cap = policy.download_cap();
    if (r[0][3].as<int>() == 1 && cap.max_concurrent() > 0) {
      // A first send under a download cap: the device's group (devices
      // sharing its value of the attribute) must have a free place. The
      // group's lock serializes replicas deciding for the same group.
      const std::string campaign_id = r[0][1].c_str();
      const std::string value = txn.exec_params(
          "SELECT coalesce(attributes ->> $2, '') FROM devices WHERE device_id = $1",
          device_id, cap.attribute())[0][0].c_str();
      txn.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                      absl::StrCat("download-cap\n", campaign_id, "\n", value));
      const int64_t busy = txn.exec_params(
          "SELECT count(*) FROM deployments d JOIN devices v ON v.device_id = d.device_id "
          "WHERE d.campaign_id = $1 AND d.state IN (2, 5) "
          "AND coalesce(v.attributes ->> $2, '') = $3",
          campaign_id, cap.attribute(), value)[0][0].as<int64_t>();
      if (busy >= static_cast<int64_t>(cap.max_concurrent())) {
        capped = absl::StrCat(busy, " devices with ", cap.attribute(), " \"", value,
                              "\" are downloading; the campaign allows ",
                              cap.max_concurrent());
        return absl::OkStatus();
      }
    }
    found = true;
    out.set_deployment_id(r[0][0].c_str());
    out.set_campaign_id(r[0][1].c_str());
    out.mutable_manifest()->ParseFromString(pqxx::binarystring(r[0][2]).str());
    txn.exec_params(
        "UPDATE deployments SET state = 2, updated_ms = $2 WHERE deployment_id = $1 AND state = 1",
        out.deployment_id(), now_ms);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!capped.empty()) return absl::ResourceExhaustedError(capped);
  if (!found) return absl::NotFoundError("no deployment to send");
  return out;
}

absl::StatusOr<std::map<std::string, ota::v1::Deployment>> NextDeployments(
    Database* db, const std::vector<std::string>& device_ids, int64_t now_ms,
    const std::vector<std::string>& already_sent) {
  std::map<std::string, ota::v1::Deployment> out;
  std::vector<std::string> capped;
  const std::string ids = PgTextArray(device_ids);
  const std::string sent = PgTextArray(already_sent);
  absl::Status s = db->Transact([&](pqxx::work& txn) -> absl::Status {
    out.clear();
    capped.clear();
    std::map<std::string, std::vector<ota::v1::Deployment*>> by_manifest;
    std::vector<std::string> chosen;
    // Campaigns with a download cap: their first sends go one by one
    // through NextDeployment, which holds each group to its cap.
    std::set<std::string> capped_campaigns;
    for (const auto& row : txn.exec_params(
             "SELECT DISTINCT c.campaign_id, c.policy FROM deployments d "
             "JOIN campaigns c ON c.campaign_id = d.campaign_id "
             "WHERE d.device_id = ANY($1::text[]) AND d.state = 1 AND c.state = 3",
             ids)) {
      ota::v1::RolloutPolicy policy;
      policy.ParseFromString(pqxx::binarystring(row[1]).str());
      if (policy.download_cap().max_concurrent() > 0) capped_campaigns.insert(row[0].c_str());
    }
    for (const auto& row : txn.exec_params(
             "SELECT DISTINCT ON (d.device_id) d.device_id, d.deployment_id, d.campaign_id, "
             "c.manifest_id, d.state FROM deployments d "
             "JOIN campaigns c ON c.campaign_id = d.campaign_id "
             "WHERE d.device_id = ANY($1::text[]) AND d.state IN (1, 2) AND c.state = 3 "
             "AND d.deployment_id <> ALL($2::text[]) "
             "ORDER BY d.device_id, d.created_ms",
             ids, sent)) {
      if (row[4].as<int>() == 1 && capped_campaigns.count(row[2].c_str()) != 0) {
        capped.push_back(row[0].c_str());
        continue;
      }
      ota::v1::Deployment& d = out[row[0].c_str()];
      d.set_deployment_id(row[1].c_str());
      d.set_campaign_id(row[2].c_str());
      by_manifest[row[3].c_str()].push_back(&d);
      chosen.push_back(d.deployment_id());
    }
    if (out.empty()) return absl::OkStatus();
    std::vector<std::string> manifest_ids;
    for (const auto& [id, _] : by_manifest) manifest_ids.push_back(id);
    // Each manifest is read and parsed once for the batch.
    for (const auto& row : txn.exec_params(
             "SELECT manifest_id, signed_manifest FROM manifests "
             "WHERE manifest_id = ANY($1::text[])",
             PgTextArray(manifest_ids))) {
      ota::v1::SignedManifest m;
      m.ParseFromString(pqxx::binarystring(row[1]).str());
      for (ota::v1::Deployment* d : by_manifest[row[0].c_str()]) *d->mutable_manifest() = m;
    }
    txn.exec_params(
        "UPDATE deployments SET state = 2, updated_ms = $2 "
        "WHERE deployment_id = ANY($1::text[]) AND state = 1",
        PgTextArray(chosen), now_ms);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  for (const std::string& device_id : capped) {
    absl::StatusOr<ota::v1::Deployment> d = NextDeployment(db, device_id, now_ms);
    if (d.ok()) out[device_id] = *std::move(d);
  }
  return out;
}

absl::StatusOr<CampaignDeployments> TakeCampaignDeployments(Database* db,
                                                            const std::string& campaign_id,
                                                            const DeviceSelection& devices,
                                                            int64_t now_ms) {
  CampaignDeployments out;
  if (devices.ids.empty() && devices.ranges.empty()) return out;
  const std::string ids = PgTextArray(devices.ids);
  absl::Status s = db->Transact([&](pqxx::work& txn) -> absl::Status {
    out = CampaignDeployments();
    pqxx::result c = txn.exec_params(
        "SELECT c.policy, m.signed_manifest FROM campaigns c "
        "JOIN manifests m ON m.manifest_id = c.manifest_id "
        "WHERE c.campaign_id = $1 AND c.state = 3",
        campaign_id);
    if (c.empty()) return absl::OkStatus();
    ota::v1::RolloutPolicy policy;
    policy.ParseFromString(pqxx::binarystring(c[0][0]).str());
    const bool capped = policy.download_cap().max_concurrent() > 0;
    // A wave just inserted has no statistics yet; the planner must not
    // take the campaign's deployments for a few rows and scan them whole
    // for every device asked about. Each statement below is one index scan
    // over the campaign's deployments (ids, when given, hashed).
    txn.exec("SET LOCAL enable_seqscan = off");
    // Open deployments of the campaign still to send (a device has at most
    // one open deployment, deployments_one_open_per_device, so this is the
    // one), by device id: (deployment id, state). `narrow`: keep only the
    // devices `keep` names.
    std::map<std::string, std::pair<std::string, int>> found;
    const std::string select = absl::StrCat(
        "SELECT device_id, deployment_id, state FROM deployments WHERE campaign_id = $1 "
        "AND state IN ",
        capped ? "(1)" : "(1, 2)", " AND ");
    auto collect = [&](const std::string& devices_where, bool narrow, const auto&... params) {
      for (const auto& row : txn.exec_params(select + devices_where, campaign_id, params...)) {
        std::string device_id = row[0].c_str();
        if (narrow && devices.keep && !devices.keep(device_id)) continue;
        found.try_emplace(std::move(device_id), row[1].c_str(), row[2].template as<int>());
      }
    };
    if (!devices.ids.empty()) collect("device_id = ANY($2::text[])", /*narrow=*/false, ids);
    for (const DeviceRange& r : devices.ranges) {
      collect("device_id >= $2 AND device_id <= $3", /*narrow=*/true, r.first, r.last);
    }
    if (capped) {
      out.capped = true;
      for (const auto& [device_id, _] : found) out.waiting.push_back(device_id);
      return absl::OkStatus();
    }
    std::vector<std::string> pending;
    for (const auto& [device_id, d] : found) {
      if (d.second == 2) {
        out.deployments.emplace_back(device_id, d.first);
      } else {
        pending.push_back(d.first);
      }
    }
    // Rows another transaction holds are skipped, never waited for: a
    // device's own lookup (NextDeployments) sends what it holds, and a
    // pass that waited on lookups while they wait on it would deadlock.
    if (!pending.empty()) {
      for (const auto& row : txn.exec_params(
               "UPDATE deployments d SET state = 2, updated_ms = $2 "
               "FROM (SELECT deployment_id FROM deployments "
               "WHERE deployment_id = ANY($1::text[]) AND state = 1 FOR UPDATE SKIP LOCKED) s "
               "WHERE d.deployment_id = s.deployment_id AND d.state = 1 "
               "RETURNING d.device_id, d.deployment_id",
               PgTextArray(pending), now_ms)) {
        out.deployments.emplace_back(row[0].c_str(), row[1].c_str());
      }
    }
    if (out.deployments.empty()) return absl::OkStatus();
    out.manifest.ParseFromString(pqxx::binarystring(c[0][1]).str());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status ApplyReportBatch(pqxx::work& txn, const std::vector<const DeviceReports*>& items) {
  // round -> columns of the reports applied in it
  struct Round {
    std::vector<std::string> deployment, device, message;
    std::vector<int> state, reason;
    std::vector<uint64_t> bytes_done, bytes_total;
    std::vector<int64_t> now;
  };
  std::vector<Round> rounds;
  std::map<std::pair<std::string, std::string>, size_t> seen;  // (device, deployment) -> reports
  for (const DeviceReports* item : items) {
    for (const ota::v1::StatusReport& r : item->reports) {
      if (r.deployment_id().empty()) continue;
      const size_t n = seen[{item->device_id, r.deployment_id()}]++;
      if (rounds.size() <= n) rounds.resize(n + 1);
      Round& round = rounds[n];
      round.deployment.push_back(r.deployment_id());
      round.device.push_back(item->device_id);
      round.message.push_back(r.message());
      round.state.push_back(static_cast<int>(r.state()));
      round.reason.push_back(static_cast<int>(r.reason()));
      round.bytes_done.push_back(r.bytes_done());
      round.bytes_total.push_back(r.bytes_total());
      round.now.push_back(item->now_ms);
    }
  }
  auto numbers = [](const auto& values) {
    std::string out = "{";
    for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i ? "," : "", values[i]);
    return out + "}";
  };
  for (const Round& r : rounds) {
    txn.exec_params(
        "UPDATE deployments SET state = u.state, reason = u.reason, message = u.message, "
        "bytes_done = u.bytes_done, bytes_total = u.bytes_total, updated_ms = u.now "
        "FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[], $6::bigint[], "
        "$7::bigint[], $8::bigint[]) "
        "AS u(deployment_id, device_id, state, reason, message, bytes_done, bytes_total, now) "
        "WHERE deployments.deployment_id = u.deployment_id "
        "AND deployments.device_id = u.device_id "
        "AND (deployments.state NOT IN (3, 9, 10, 11, 12, 13) "
        "OR (deployments.state = 9 AND u.state = 11))",
        PgTextArray(r.deployment), PgTextArray(r.device), numbers(r.state), numbers(r.reason),
        PgTextArray(r.message), numbers(r.bytes_done), numbers(r.bytes_total), numbers(r.now));
  }
  return absl::OkStatus();
}

absl::Status ApplyReports(pqxx::work& txn, const std::string& device_id,
                          const std::vector<ota::v1::StatusReport>& reports, int64_t now_ms) {
  for (const ota::v1::StatusReport& r : reports) {
    if (r.deployment_id().empty()) continue;
    txn.exec_params(
        "UPDATE deployments SET state = $3, reason = $4, message = $5, bytes_done = $6, "
        "bytes_total = $7, updated_ms = $8 WHERE deployment_id = $1 AND device_id = $2 "
        "AND (state NOT IN (3, 9, 10, 11, 12, 13) OR (state = 9 AND $3 = 11))",
        r.deployment_id(), device_id, static_cast<int>(r.state()), static_cast<int>(r.reason()),
        r.message(), r.bytes_done(), r.bytes_total(), now_ms);
  }
  return absl::OkStatus();
}

absl::Status DetectRollback(Database* db, const std::string& device_id,
                            const ota::v1::InstalledImage& installed, int64_t now_ms) {
  return db->Transact([&](pqxx::work& txn) {
    txn.exec_params(
        "UPDATE deployments d SET state = 11, reason = 104, updated_ms = $4, "
        "message = 'the device was seen running sequence ' || $3 || ' again' "
        "FROM campaigns c, manifests m WHERE d.device_id = $1 AND d.state = 9 "
        "AND c.campaign_id = d.campaign_id AND m.manifest_id = c.manifest_id "
        "AND m.payload_sha256 <> $2 AND m.sequence_number > $3::bigint",
        device_id, common::HexEncode(installed.image_sha256()),
        static_cast<int64_t>(installed.sequence_number()), now_ms);
    return absl::OkStatus();
  });
}

// ------------------------------------------------------------ engine

absl::Status Engine::Tick() {
  std::vector<std::string> ids;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    ids.clear();
    for (const auto& r : txn.exec("SELECT campaign_id FROM campaigns WHERE state IN (2, 3) "
                                  "ORDER BY created_unix")) {
      ids.push_back(r[0].c_str());
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  absl::Status first;
  for (const std::string& id : ids) {
    // The last wave goes in chunks, each committed and announced on its
    // own, so that streams receive the first devices' deployments while
    // the rest are still being inserted.
    bool more = true;
    std::string last_device;  // the chunks go on from the last device taken
    while (more) {
      more = false;
      std::vector<std::string> notified;
      absl::Status t = TickCampaign(id, &notified, &more, &last_device);
      if (t.ok() && !notified.empty() && notify_) notify_(id, notified);
      if (t.ok()) KeepStatistics();
      if (!t.ok()) {
        if (first.ok()) first = t;
        break;
      }
    }
  }
  return first;
}

void Engine::KeepStatistics() {
  if (unanalyzed_ < 1000) return;
  const absl::Time started = absl::Now();
  double rows = 0;
  bool analyzed = false;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    rows = txn.exec("SELECT greatest(reltuples, 0) FROM pg_class "
                    "WHERE oid = 'deployments'::regclass")[0][0]
               .as<double>();
    analyzed = static_cast<double>(unanalyzed_) > rows;
    if (analyzed) {
      // A sample of 3,000 rows (the default takes 30,000): enough for row
      // counts and the spread of states, at a tenth of the time, while
      // the next chunk waits. Autovacuum refines it later.
      txn.exec("SET LOCAL default_statistics_target = 10");
      txn.exec("ANALYZE deployments");
    }
    return absl::OkStatus();
  });
  if (!s.ok() || !analyzed) return;
  common::LogEvent(common::LogLevel::kInfo, "engine.analyze",
                   {{"table", "deployments"},
                    {"rows_before", absl::StrCat(static_cast<int64_t>(rows))},
                    {"added", absl::StrCat(unanalyzed_)},
                    {"ms", absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - started))}});
  unanalyzed_ = 0;
}

absl::Status Engine::TickCampaign(const std::string& id, std::vector<std::string>* notified,
                                  bool* more, std::string* last_device) {
  const int64_t now = clock_->NowUnix();
  size_t inserted = 0;
  std::vector<std::pair<const char*, std::vector<common::LogField>>> logged;  // after commit
  absl::Status status = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    notified->clear();
    logged.clear();
    *more = false;
    inserted = 0;
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kCampaignColumns, " FROM campaigns WHERE campaign_id = $1 "
                     "AND state IN (2, 3) FOR UPDATE SKIP LOCKED"),
        id);
    if (r.empty()) return absl::OkStatus();  // another replica has it, or it changed
    Campaign c = CampaignFromRow(r[0]);
    const int64_t wave_started = r[0]["wave_started_unix"].as<int64_t>();
    auto set_state = [&](CampaignState to, const std::string& reason) {
      txn.exec_params(
          "UPDATE campaigns SET state = $2, state_reason = $3, "
          "started_unix = CASE WHEN started_unix = 0 AND $2 = 3 THEN $4 ELSE started_unix END, "
          "finished_unix = CASE WHEN $2 IN (5, 6, 7) THEN $4 ELSE finished_unix END "
          "WHERE campaign_id = $1",
          id, static_cast<int>(to), reason, now);
      (void)Record(txn, id, c.state(), to, reason, now);
      logged.push_back({"campaign.state",
                        {{"campaign_id", id},
                         {"from", StateShortName(c.state())},
                         {"to", StateShortName(to)},
                         {"by", "engine"},
                         {"reason", reason}}});
      c.set_state(to);
    };
    if (c.state() == ota::v1::CAMPAIGN_STATE_SCHEDULED) {
      if (now < c.policy().start_unix()) return absl::OkStatus();
      set_state(ota::v1::CAMPAIGN_STATE_ACTIVE, "start time reached");
    }
    const ota::v1::RolloutPolicy& p = c.policy();

    // The rest of a chunked last wave, within the same Tick: the counts,
    // the stop rules and completion wait for the next tick, so that each
    // chunk costs its own devices, not a scan of every earlier one.
    const bool continuing = !last_device->empty();
    // Where the started waves stand.
    uint64_t total = 0, failed = 0, open = 0;
    std::map<uint32_t, std::pair<uint64_t, uint64_t>> wave_counts;  // wave -> (all, ok)
    pqxx::result counts;
    if (!continuing) {
      counts = txn.exec_params(
          "SELECT wave, state, count(*) FROM deployments WHERE campaign_id = $1 "
          "GROUP BY wave, state",
          id);
    }
    for (const auto& row : counts) {
      uint32_t wave = row[0].as<uint32_t>();
      int state = row[1].as<int>();
      uint64_t n = row[2].as<uint64_t>();
      total += n;
      wave_counts[wave].first += n;
      if (state == 3 || state == 10 || state == 11) failed += n;
      if (state == 9 || state == 12) wave_counts[wave].second += n;
      if (!IsTerminal(static_cast<DeploymentState>(state))) open += n;
    }
    // Auto-stop: too many failures in the started waves.
    const bool too_many = p.failure_ratio() == 0
                              ? failed > 0
                              : p.failure_ratio() < 1 &&
                                    static_cast<double>(failed) / std::max<uint64_t>(total, 1) >
                                        p.failure_ratio();
    if (total > 0 && too_many) {
      std::string reason = absl::StrCat(failed, " of ", total, " devices failed, above the ",
                                        p.failure_ratio(), " the policy allows");
      set_state(ota::v1::CAMPAIGN_STATE_AUTO_STOPPED, reason);
      txn.exec_params(
          "UPDATE deployments SET state = 13, reason = 134, message = $2, updated_ms = $3 "
          "WHERE campaign_id = $1 AND state = 1",
          id, reason, now * 1000);
      return absl::OkStatus();
    }

    absl::StatusOr<Target> target = TargetOf(txn, c);
    if (!target.ok()) return target.status();
    const uint32_t last_wave = std::max(1, p.waves_size());
    uint32_t wave = c.current_wave();

    // `after`: only devices whose id sorts after it (the rest of a chunked
    // wave; devices before it are taken by the next tick's first chunk).
    // A device with a stream open somewhere (devices.online) gets its
    // deployment NOTIFIED at once: the replica holding the stream sends it
    // on hearing of the chunk (CampaignFanout), and every connect sends
    // NOTIFIED ones again, so the row is written once, not inserted PENDING
    // and updated moments later. Under a download cap every deployment
    // starts PENDING and waits for room in its group.
    const bool notify_online = p.download_cap().max_concurrent() == 0;
    auto insert = [&](uint32_t into, int64_t limit, const std::string& after = "") {
      // A wave is a set operation over every targeted device: merge or hash
      // anti joins keep it linear. With statistics not yet gathered (a
      // fleet registered minutes ago) the planner took the devices for one
      // row and chose a nested loop that rescanned every open deployment
      // for each device: 1.9 s for 10,000 devices, growing with the square.
      // Both anti joins repeat the `after` bound (implied by the join), so
      // that a chunk reads only the deployments after it, not every one
      // the earlier chunks wrote.
      txn.exec("SET LOCAL enable_nestloop = off");
      std::vector<std::string> params = target->params;
      size_t first = AddParams(&params, {id, absl::StrCat(into), absl::StrCat(now * 1000),
                                         absl::StrCat(limit), after,
                                         notify_online ? "true" : "false"});
      pqxx::result added = txn.exec_params(
          absl::StrCat(
              "WITH added AS (INSERT INTO deployments (deployment_id, campaign_id, device_id, "
              "wave, state, "
              "created_ms, updated_ms) "
              "SELECT replace(gen_random_uuid()::text, '-', ''), $", first, ", device_id, $",
              first + 1, "::integer, CASE WHEN devices.online AND $", first + 5,
              "::boolean THEN 2 ELSE 1 END, $", first + 2, "::bigint, $", first + 2,
              "::bigint FROM devices WHERE ", target->where, " AND devices.device_id > $",
              first + 4, " AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.campaign_id = $",
              first,
              " AND d.device_id = devices.device_id AND d.device_id > $", first + 4, ")"
              " AND NOT EXISTS (SELECT 1 FROM deployments o WHERE o.device_id = devices.device_id"
              " AND o.device_id > $", first + 4, " AND o.state IN ", kOpenStates,
              ") ORDER BY device_id LIMIT $", first + 3,
              "::bigint ON CONFLICT DO NOTHING RETURNING device_id) "
              "SELECT device_id FROM added ORDER BY device_id"),
          pqxx::prepare::make_dynamic_params(params));
      txn.exec("SET LOCAL enable_nestloop = on");
      inserted += added.size();
      for (const auto& a : added) notified->push_back(a[0].c_str());
      // In the database's collation, as the next chunk's "device_id >" reads it.
      if (!added.empty()) *last_device = added[added.size() - 1][0].c_str();
      return added.size();
    };
    // Targeted devices that have no deployment of this campaign yet.
    auto unassigned = [&]() -> uint64_t {
      std::vector<std::string> params = target->params;
      size_t cid = AddParams(&params, {id});
      return txn.exec_params(
          absl::StrCat("SELECT count(*) FROM devices WHERE ", target->where,
                       " AND NOT EXISTS (SELECT 1 FROM deployments d WHERE d.campaign_id = $",
                       cid, " AND d.device_id = devices.device_id)"),
          pqxx::prepare::make_dynamic_params(params))[0][0].as<uint64_t>();
    };
    // The last wave takes every matching device, one chunk per transaction.
    auto insert_chunk = [&]() {
      const size_t added =
          insert(last_wave, static_cast<int64_t>(last_wave_chunk_), *last_device);
      *more = added == last_wave_chunk_;
      return added;
    };
    auto start_wave = [&](uint32_t next) {
      int64_t limit = std::numeric_limits<int64_t>::max();
      if (next < last_wave) {
        const ota::v1::Wave& w = p.waves(next - 1);
        limit = w.size_case() == ota::v1::Wave::kDeviceCount
                    ? static_cast<int64_t>(w.device_count())
                    : std::max<int64_t>(
                          1, static_cast<int64_t>(std::ceil(w.percent() / 100.0 * (total + unassigned()))));
      }
      const size_t added = next < last_wave ? insert(next, limit) : insert_chunk();
      logged.push_back({"campaign.wave",
                        {{"campaign_id", id},
                         {"wave", absl::StrCat(next)},
                         {"devices", absl::StrCat(added)}}});
      txn.exec_params(
          "UPDATE campaigns SET current_wave = $2, wave_started_unix = $3 WHERE campaign_id = $1",
          id, static_cast<int>(next), now);
      wave = next;
    };

    if (wave == 0) {
      start_wave(1);
    } else if (wave < last_wave) {
      const auto& [all, ok] = wave_counts[wave];
      const double needed = p.success_ratio() == 0 ? 1.0 : p.success_ratio();
      const bool succeeded = all == 0 || static_cast<double>(ok) + 1e-9 >= needed * all;
      if (succeeded && now >= wave_started + p.wave_soak_seconds()) start_wave(wave + 1);
    } else {
      // The last wave takes every device that matches, late joiners too.
      const size_t added = insert_chunk();
      if (added > 0) {
        logged.push_back({"campaign.wave_added",
                          {{"campaign_id", id},
                           {"wave", absl::StrCat(wave)},
                           {"devices", absl::StrCat(added)}}});
      }
    }
    if (p.download_cap().max_concurrent() > 0) {
      // Under a cap, wake only waiting devices whose group has room.
      notified->clear();
      for (const auto& row : txn.exec_params(
               "WITH g AS (SELECT d.device_id, d.state, "
               "coalesce(v.attributes ->> $2, '') AS value FROM deployments d "
               "JOIN devices v ON v.device_id = d.device_id "
               "WHERE d.campaign_id = $1 AND d.state IN (1, 2, 5)), "
               "busy AS (SELECT value, count(*) AS n FROM g WHERE state IN (2, 5) "
               "GROUP BY value), "
               "waiting AS (SELECT device_id, value, "
               "row_number() OVER (PARTITION BY value ORDER BY device_id) AS k "
               "FROM g WHERE state = 1) "
               "SELECT w.device_id FROM waiting w LEFT JOIN busy b ON b.value = w.value "
               "WHERE w.k + coalesce(b.n, 0) <= $3 ORDER BY w.device_id",
               id, p.download_cap().attribute(),
               static_cast<int64_t>(p.download_cap().max_concurrent()))) {
        notified->push_back(row[0].c_str());
      }
    }
    if (!continuing && wave == last_wave && notified->empty() && open == 0) {
      if (total > 0 && unassigned() == 0) {
        set_state(ota::v1::CAMPAIGN_STATE_COMPLETED,
                  absl::StrCat("every targeted device finished (", failed, " failed)"));
      }
    }
    if (!notified->empty() && !replica_id_.empty()) {
      // `notified` is in device id order: the other replicas look only at
      // their devices in that range.
      ClusterEvents::Publish(txn, replica_id_, ClusterEvents::kDeploymentsReady, id,
                             DeviceRange{notified->front(), notified->back()});
    }
    return absl::OkStatus();
  });
  if (status.ok()) {
    unanalyzed_ += inserted;
    for (const auto& [event, fields] : logged) {
      common::LogEvent(common::LogLevel::kInfo, event, fields);
    }
  }
  return status;
}

}  // namespace ota::server
