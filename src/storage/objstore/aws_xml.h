// Minimal XML DOM for AWS API responses (S3 ListObjectsV2 / multipart / errors, STS). Parsing is
// delegated to Boost.PropertyTree's XML reader (entity decoding included); the DOM hides Boost
// from other headers. Attributes and namespaces are ignored. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace norn::objstore {

struct XmlElement {
  std::string name;
  std::string text;  // Character data directly inside the element.
  std::vector<XmlElement> children;

  // First child named `name`, or nullptr.
  const XmlElement* Child(std::string_view name) const;
  // Text of the first child named `name`, or "".
  std::string ChildText(std::string_view name) const;
  // Follows a path of child names ("Result/Credentials"); nullptr if any step is missing.
  const XmlElement* Find(std::string_view path) const;
};

// The document's root element. kInvalidArgument on malformed XML.
absl::StatusOr<XmlElement> ParseXml(std::string_view xml);

// Escapes &, <, >, " and ' for element text.
std::string XmlEscape(std::string_view s);

// AWS error documents: S3's <Error><Code/><Message/></Error> and STS's
// <ErrorResponse><Error>...</Error></ErrorResponse>. Empty strings if not an error document.
struct AwsErrorInfo {
  std::string code;
  std::string message;
};
AwsErrorInfo ParseAwsError(std::string_view body);

// ISO 8601 / RFC 3339 timestamps as AWS writes them: "2024-05-01T12:00:00Z",
// "2024-05-01T12:00:00.000Z", "2024-05-01T12:00:00+00:00".
absl::StatusOr<absl::Time> ParseIso8601(std::string_view s);
// HTTP dates (RFC 7231 IMF-fixdate): "Wed, 12 Oct 2009 17:50:00 GMT".
absl::StatusOr<absl::Time> ParseHttpDate(std::string_view s);

}  // namespace norn::objstore
