#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "server/api/services.h"
#include "server/api/status.h"

namespace ota::server {

grpc::Status AssetServiceImpl::UploadAsset(
    grpc::ServerContext* context, grpc::ServerReader<ota::v1::UploadAssetRequest>* reader,
    ota::v1::UploadAssetResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  ota::v1::UploadAssetRequest first;
  if (!reader->Read(&first)) {
    return ToGrpc(absl::InvalidArgumentError("upload stream ended before its header"));
  }
  if (!first.has_header()) {
    return ToGrpc(absl::InvalidArgumentError("the first upload message must be a header"));
  }
  const ota::v1::UploadAssetHeader& h = first.header();
  if (absl::Status s = CheckSha256Hex("header.sha256", h.sha256()); !s.ok()) return ToGrpc(s);
  if (h.size() == 0) return ToGrpc(absl::InvalidArgumentError("header.size is zero"));
  if (h.size() > deps_.options.max_asset_size) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "header.size ", h.size(), " is above the limit of ", deps_.options.max_asset_size)));
  }
  if (h.name().size() > 256) {
    return ToGrpc(absl::InvalidArgumentError("header.name is longer than 256 bytes"));
  }
  {
    absl::MutexLock lock(&mu_);
    if (!uploading_.insert(h.sha256()).second) {
      return ToGrpc(absl::AbortedError(
          absl::StrCat("asset ", h.sha256(), " is being uploaded by another stream")));
    }
  }
  absl::Cleanup done = [this, sha = h.sha256()] {
    absl::MutexLock lock(&mu_);
    uploading_.erase(sha);
  };
  return ToGrpc(Upload(reader, h, response));
}

absl::Status AssetServiceImpl::Upload(grpc::ServerReader<ota::v1::UploadAssetRequest>* reader,
                                      const ota::v1::UploadAssetHeader& h,
                                      ota::v1::UploadAssetResponse* response) {
  const int64_t now = deps_.clock->NowUnix();
  bool complete = false;
  absl::StatusOr<ota::v1::Asset> asset =
      store_.BeginUpload(h.sha256(), h.size(), h.name(), now, &complete);
  if (!asset.ok()) return asset.status();
  // An identical upload is deduplicated: answer at once.
  if (complete && deps_.blobs->Exists(h.sha256())) {
    response->set_bytes_received(h.size());
    response->set_complete(true);
    *response->mutable_asset() = *asset;
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<BlobWriter>> writer =
      deps_.blobs->StartUpload(h.sha256(), h.size(), h.offset());
  if (!writer.ok()) return writer.status();

  ota::v1::UploadAssetRequest msg;
  absl::Status failure;
  while (reader->Read(&msg)) {
    if (!msg.has_chunk() && msg.has_header()) {
      failure = absl::InvalidArgumentError("a second header arrived mid-upload");
      break;
    }
    if (absl::Status s = (*writer)->Append(msg.chunk()); !s.ok()) {
      failure = s;
      break;
    }
  }
  // Whatever arrived is kept so the client can resume from it.
  if (absl::Status s = (*writer)->Sync(); !s.ok()) return s;
  const uint64_t received = (*writer)->bytes_written();
  if (!failure.ok()) {
    // Bytes past the declared size never stay.
    (void)store_.SetReceived(h.sha256(), received, deps_.clock->NowUnix());
    return failure;
  }
  response->set_bytes_received(received);
  if (received < h.size()) {
    response->set_complete(false);
    return store_.SetReceived(h.sha256(), received, deps_.clock->NowUnix());
  }
  if (absl::Status s = (*writer)->Finish(); !s.ok()) {
    (void)store_.SetReceived(h.sha256(), 0, deps_.clock->NowUnix());
    return s;
  }
  absl::StatusOr<ota::v1::Asset> finished = store_.MarkComplete(h.sha256(), deps_.clock->NowUnix());
  if (!finished.ok()) return finished.status();
  response->set_complete(true);
  *response->mutable_asset() = *finished;
  return absl::OkStatus();
}

grpc::Status AssetServiceImpl::GetUploadStatus(grpc::ServerContext* context,
                                               const ota::v1::GetUploadStatusRequest* request,
                                               ota::v1::GetUploadStatusResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckSha256Hex("sha256", request->sha256()); !s.ok()) return ToGrpc(s);
  bool complete = false;
  uint64_t received = 0;
  int64_t updated = 0;
  auto asset = store_.Get(request->sha256(), &complete, &received, &updated);
  if (!asset.ok()) return ToGrpc(asset.status());
  response->set_sha256(asset->sha256());
  response->set_size(asset->size());
  response->set_complete(complete);
  // The disk is the authority on what arrived; the row may lag a crash.
  response->set_bytes_received(complete ? asset->size()
                                        : deps_.blobs->PartialSize(request->sha256()));
  response->set_updated_unix(updated);
  if (complete) *response->mutable_asset() = *asset;
  return grpc::Status::OK;
}

grpc::Status AssetServiceImpl::GetAsset(grpc::ServerContext* context,
                                        const ota::v1::GetAssetRequest* request,
                                        ota::v1::Asset* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckSha256Hex("sha256", request->sha256()); !s.ok()) return ToGrpc(s);
  bool complete = false;
  auto asset = store_.Get(request->sha256(), &complete, nullptr, nullptr);
  if (!asset.ok()) return ToGrpc(asset.status());
  if (!complete) {
    return ToGrpc(absl::NotFoundError(
        absl::StrCat("asset ", request->sha256(), " is still being uploaded")));
  }
  *response = *std::move(asset);
  return grpc::Status::OK;
}

grpc::Status AssetServiceImpl::ListAssets(grpc::ServerContext* context,
                                          const ota::v1::ListAssetsRequest* request,
                                          ota::v1::ListAssetsResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  auto page = store_.List(request->page_size(), request->page_token());
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& a : page->items) *response->add_assets() = std::move(a);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status AssetServiceImpl::DeleteAsset(grpc::ServerContext* context,
                                           const ota::v1::DeleteAssetRequest* request,
                                           ota::v1::DeleteAssetResponse*) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckSha256Hex("sha256", request->sha256()); !s.ok()) return ToGrpc(s);
  {
    absl::MutexLock lock(&mu_);
    if (uploading_.count(request->sha256()) > 0) {
      return ToGrpc(absl::FailedPreconditionError(
          absl::StrCat("asset ", request->sha256(), " is being uploaded")));
    }
  }
  // The row goes first, in a transaction that refuses while a manifest uses
  // the asset; the bytes go only after the row is gone.
  if (absl::Status s = store_.Delete(request->sha256()); !s.ok()) return ToGrpc(s);
  return ToGrpc(deps_.blobs->Delete(request->sha256()));
}

}  // namespace ota::server
