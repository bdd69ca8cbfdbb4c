#include "test/pg/postgres_cluster.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/base/file.h"

namespace ota::testing {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin";
constexpr char kUser[] = "postgres";

}  // namespace

absl::Status PostgresCluster::Run(const std::string& command) const {
  std::string full = geteuid() == 0
                         ? absl::StrCat("runuser -u ", kUser, " -- sh -c '", command, "'")
                         : command;
  full += absl::StrCat(" >>", dir_, "/commands.log 2>&1");
  int rc = std::system(full.c_str());
  if (rc != 0) {
    absl::StatusOr<std::string> log = common::ReadFile(dir_ + "/commands.log");
    absl::StatusOr<std::string> server = common::ReadFile(dir_ + "/server.log");
    return absl::UnavailableError(absl::StrCat(
        "`", command, "` failed (", rc, "):\n", log.ok() ? *log : "",
        server.ok() ? *server : ""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PostgresCluster>> PostgresCluster::Start() {
  if (!common::PathExists(absl::StrCat(kBin, "/initdb"))) {
    return absl::UnavailableError(
        absl::StrCat(kBin, "/initdb is missing: install postgresql-15"));
  }
  char tmpl[] = "/tmp/ota-pg-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return absl::InternalError("cannot create a folder under /tmp");
  }
  std::unique_ptr<PostgresCluster> cluster(new PostgresCluster(tmpl));
  chmod(tmpl, 0777);
  if (geteuid() == 0) {
    struct passwd* pw = getpwnam(kUser);
    if (pw == nullptr) {
      return absl::UnavailableError("user postgres is missing: install postgresql");
    }
    if (chown(tmpl, pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError(absl::StrCat("cannot chown ", tmpl));
    }
  }
  const std::string& d = cluster->dir_;
  absl::Status s = cluster->Run(absl::StrCat(
      kBin, "/initdb --no-sync -A trust -U postgres -E UTF8 --locale=C -D ", d, "/data"));
  if (!s.ok()) return s;
  // Tests need speed, not crash safety of the test database itself.
  std::string conf = absl::StrCat(
      "listen_addresses = ''\nunix_socket_directories = '", d, "'\n",
      "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
      "max_connections = 200\nshared_buffers = 32MB\n");
  {
    std::ofstream out(d + "/data/postgresql.conf", std::ios::app);
    out << conf;
    if (!out.good()) return absl::InternalError("cannot write postgresql.conf");
  }
  s = cluster->StartServer();
  if (!s.ok()) return s;
  return cluster;
}

absl::Status PostgresCluster::StartServer() {
  absl::Status s = Run(absl::StrCat(kBin, "/pg_ctl -w -t 30 -D ", dir_, "/data -l ",
                                    dir_, "/server.log start"));
  if (s.ok()) running_ = true;
  return s;
}

absl::Status PostgresCluster::Stop() {
  absl::Status s = Run(absl::StrCat(kBin, "/pg_ctl -w -t 30 -m fast -D ", dir_, "/data stop"));
  if (s.ok()) running_ = false;
  return s;
}

absl::Status PostgresCluster::Restart() { return StartServer(); }

PostgresCluster::~PostgresCluster() {
  if (running_) {
    (void)Run(absl::StrCat(kBin, "/pg_ctl -w -t 30 -m immediate -D ", dir_, "/data stop"));
  }
  std::system(absl::StrCat("rm -rf ", dir_).c_str());
}

absl::StatusOr<std::string> PostgresCluster::CreateDatabase() {
  std::string name = absl::StrCat("test_", getpid(), "_", next_db_++);
  absl::Status s = Run(absl::StrCat(kBin, "/createdb -h ", dir_, " -U postgres ", name));
  if (!s.ok()) return s;
  return Url(name);
}

std::string PostgresCluster::Url(const std::string& name) const {
  return absl::StrCat("postgresql://postgres@/", name, "?host=", dir_);
}

}  // namespace ota::testing
