"""ota_cc_proto: C++ and gRPC code for one .proto file, by Debian's protoc.

Native proto_library would download protobuf; a genrule over /usr/bin/protoc
and /usr/bin/grpc_cpp_plugin keeps the build offline. Generated headers are
included as "ota/v1/<name>.pb.h".
"""

_GOOGLEAPIS = "/usr/share/gocode/src/github.com/gogo/googleapis"

def ota_cc_proto(name, src, deps = [], import_root = None, visibility = None):
    """Generates and compiles `src` with its gRPC stubs.

    Args:
      name: the cc_library's name.
      src: the .proto file, relative to this package.
      deps: ota_cc_proto targets for the files `src` imports.
      import_root: the directory `src` is imported relative to: this package
        (the default; //proto uses it so imports read "ota/v1/x.proto") or
        "." for the workspace root ("test/vectors/vectors.proto").
      visibility: of the cc_library.
    """
    pkg = native.package_name()
    root = pkg if import_root == None else import_root
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc", base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    out_dir = "$(GENDIR)" if root == "." else "$(GENDIR)/" + root
    native.genrule(
        name = name + "_gen",
        srcs = [src, "//proto:all_protos"],
        outs = outs,
        cmd = ("/usr/bin/protoc -I%s -Iproto -I%s -I/usr/include " +
               "--cpp_out=%s --grpc_out=%s " +
               "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin $(location %s)") %
              (root, _GOOGLEAPIS, out_dir, out_dir, src),
    )
    native.cc_library(
        name = name,
        srcs = [base + ".pb.cc", base + ".grpc.pb.cc"],
        hdrs = [base + ".pb.h", base + ".grpc.pb.h"],
        includes = ["."] if root == pkg else [],
        deps = deps + [
            "//third_party/googleapis:annotations_cc",
            "@system//:grpc",
            "@system//:protobuf",
        ],
        visibility = visibility,
    )
