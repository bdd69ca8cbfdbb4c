#!/bin/sh
# Writes a C++ file holding each migration's SQL: gen_migrations.sh OUT SQL...
# Files are named NNNN_name.sql; NNNN is the version.
set -eu
out="$1"
shift
{
  echo '// Generated from server/store/migrations/*.sql by gen_migrations.sh.'
  echo '#include "server/store/database.h"'
  echo 'namespace ota::server {'
  echo 'const std::vector<Migration>& Migrations() {'
  echo '  static const auto* kMigrations = new std::vector<Migration>{'
  for f in "$@"; do
    base="$(basename "$f" .sql)"
    version="$(echo "$base" | cut -d_ -f1 | sed 's/^0*//')"
    echo "    {$version, \"$base\", R\"ota_sql("
    cat "$f"
    echo ')ota_sql"},'
  done
  echo '  };'
  echo '  return *kMigrations;'
  echo '}'
  echo '}  // namespace ota::server'
} > "$out"
