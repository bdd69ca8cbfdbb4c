"""ota_cc_proto: C++ and gRPC code for one .proto file, by Debian's protoc.

Native proto_library would download protobuf; a genrule over /usr/bin/protoc
and /usr/bin/grpc_cpp_plugin keeps the build offline. Generated headers are
included as "ota/v1/<name>.pb.h".
"""

_GOOGLEAPIS = "/usr/share/gocode/src/github.com/gogo/googleapis"

def ota_cc_proto(name, src, deps = [], visibility = None):
    """Generates and compiles `src` (a path under proto/) with its gRPC stubs.

    Args:
      name: the cc_library's name.
      src: the .proto file, relative to this package.
      deps: ota_cc_proto targets for the files `src` imports.
      visibility: of the cc_library.
    """
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc", base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    native.genrule(
        name = name + "_gen",
        srcs = native.glob(["ota/**/*.proto"]),
        outs = outs,
        cmd = ("/usr/bin/protoc -I%s -I%s -I/usr/include " +
               "--cpp_out=$(RULEDIR) --grpc_out=$(RULEDIR) " +
               "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin $(location %s)") %
              (native.package_name(), _GOOGLEAPIS, src),
    )
    native.cc_library(
        name = name,
        srcs = [base + ".pb.cc", base + ".grpc.pb.cc"],
        hdrs = [base + ".pb.h", base + ".grpc.pb.h"],
        includes = ["."],
        deps = deps + [
            "//third_party/googleapis:annotations_cc",
            "@system//:grpc",
            "@system//:protobuf",
        ],
        visibility = visibility,
    )
