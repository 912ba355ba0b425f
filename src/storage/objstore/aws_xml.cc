#include "storage/objstore/aws_xml.h"

#include <sstream>

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/strings.h"

namespace norn::objstore {
namespace {

namespace pt = boost::property_tree;

void Convert(const std::string& name, const pt::ptree& tree, XmlElement& out) {
  out.name = name;
  out.text = tree.data();
  for (const auto& [child_name, child] : tree) {
    if (child_name == "<xmlattr>" || child_name == "<xmlcomment>")
      continue;
    out.children.emplace_back();
    Convert(child_name, child, out.children.back());
  }
}

}  // namespace

const XmlElement* XmlElement::Child(std::string_view n) const {
  for (const auto& c : children) {
    if (c.name == n)
      return &c;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view n) const {
  const XmlElement* c = Child(n);
  return c ? c->text : std::string();
}

const XmlElement* XmlElement::Find(std::string_view path) const {
  const XmlElement* cur = this;
  for (absl::string_view step : absl::StrSplit(AV(path), '/')) {
    cur = cur->Child(SV(step));
    if (cur == nullptr)
      return nullptr;
  }
  return cur;
}

absl::StatusOr<XmlElement> ParseXml(std::string_view xml) {
  pt::ptree tree;
  try {
    std::istringstream in{std::string(xml)};
    pt::read_xml(in, tree);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed XML: ", e.what()));
  }
  for (const auto& [name, child] : tree) {
    if (name == "<xmlcomment>" || name == "<xmlattr>")
      continue;
    XmlElement root;
    Convert(name, child, root);
    return root;
  }
  return absl::InvalidArgumentError("XML document has no root element");
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

AwsErrorInfo ParseAwsError(std::string_view body) {
  AwsErrorInfo info;
  if (body.find("<Error") == std::string_view::npos)
    return info;
  auto doc = ParseXml(body);
  if (!doc.ok())
    return info;
  const XmlElement* err = doc->name == "Error" ? &*doc : doc->Child("Error");
  if (err == nullptr)
    return info;
  info.code = err->ChildText("Code");
  info.message = err->ChildText("Message");
  return info;
}

absl::StatusOr<absl::Time> ParseIso8601(std::string_view s) {
  absl::Time t;
  std::string err;
  // %Ez accepts "Z" as well as "+hh:mm"; %E*S takes optional fractional seconds.
  if (absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S%Ez", AV(s), &t, &err))
    return t;
  return absl::InvalidArgumentError(absl::StrCat("bad timestamp \"", AV(s), "\": ", err));
}

absl::StatusOr<absl::Time> ParseHttpDate(std::string_view s) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", AV(s), &t, &err))
    return t;
  return absl::InvalidArgumentError(absl::StrCat("bad HTTP date \"", AV(s), "\": ", err));
}

}  // namespace norn::objstore
