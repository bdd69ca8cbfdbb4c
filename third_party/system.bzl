"""Debian's system libraries as Bazel targets.

A repository rule over /usr: each library is a header-less cc_library whose
link options come from `pkg-config --libs` on this machine, so the link line
always matches the installed Debian packages. Headers come from /usr/include,
which the autodetected toolchain already searches.
"""

# target name -> pkg-config modules, or a literal list of link options.
_PKG_CONFIG = {
    "absl": [
        "absl_status",
        "absl_statusor",
        "absl_strings",
        "absl_str_format",
        "absl_time",
        "absl_synchronization",
        "absl_flags",
        "absl_flags_parse",
        "absl_random_random",
        "absl_hash",
        "absl_raw_hash_set",
        "absl_cord",
    ],
    "protobuf": ["protobuf"],
    "grpc": ["grpc++", "grpc"],
    "openssl": ["openssl"],
    "pqxx": ["libpqxx"],
    "microhttpd": ["libmicrohttpd"],
    "curl": ["libcurl"],
    "prometheus": ["prometheus-cpp-core"],
    "zstd": ["libzstd"],
    "benchmark": ["benchmark"],
}

_LITERAL = {
    "grpc_reflection": ["-Wl,--no-as-needed", "-lgrpc++_reflection", "-Wl,--as-needed"],
    "gtest": ["-lgtest", "-pthread"],
    "gtest_main": ["-lgtest_main", "-lgtest", "-pthread"],
    "gmock": ["-lgmock", "-lgtest", "-pthread"],
}

def _libs(ctx, modules):
    result = ctx.execute(["pkg-config", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config --libs %s failed (install the -dev packages: see test/run.sh): %s" %
             (" ".join(modules), result.stderr))
    return result.stdout.strip().split(" ")

def _system_libraries_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    targets = {}
    for name, modules in _PKG_CONFIG.items():
        targets[name] = _libs(ctx, modules)
    targets.update(_LITERAL)
    for name in sorted(targets.keys()):
        opts = [o for o in targets[name] if o]
        lines.append("cc_library(")
        lines.append('    name = "%s",' % name)
        lines.append("    linkopts = %s," % repr(opts))
        lines.append(")")
        lines.append("")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", "\n".join(lines))

system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
