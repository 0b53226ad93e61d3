#include "domain/template.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace sequencer::domain {
namespace {

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

absl::string_view StripSpaces(absl::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// One piece of a template: literal text or a placeholder.
struct Piece {
  enum Kind { kLiteral, kPlaceholder, kError } kind = kLiteral;
  size_t offset = 0;
  absl::string_view
      text;  // As written (for placeholders: including the braces).
  absl::string_view name;  // Placeholders: the variable name.
  std::string error;       // kError: what is wrong.
};

// Scans `text` from `pos` and returns the next piece; advances `pos`.
Piece NextPiece(absl::string_view text, size_t& pos) {
  Piece piece;
  piece.offset = pos;
  if (absl::StartsWith(text.substr(pos), "{%")) {
    piece.kind = Piece::kError;
    piece.text = text.substr(pos, 2);
    piece.error =
        absl::StrCat("\"{%\" at offset ", pos,
                     " is not allowed (only {{variable}} placeholders are)");
    pos += 2;
    return piece;
  }
  if (absl::StartsWith(text.substr(pos), "{{")) {
    const size_t close = text.find("}}", pos + 2);
    if (close == absl::string_view::npos) {
      piece.kind = Piece::kError;
      piece.text = text.substr(pos, 2);
      piece.error = absl::StrCat("unclosed \"{{\" at offset ", pos);
      pos += 2;
      return piece;
    }
    piece.text = text.substr(pos, close + 2 - pos);
    piece.name = StripSpaces(text.substr(pos + 2, close - pos - 2));
    if (IsValidVariableName(piece.name)) {
      piece.kind = Piece::kPlaceholder;
    } else {
      piece.kind = Piece::kError;
      const bool looks_like_name =
          !piece.name.empty() &&
          std::all_of(piece.name.begin(), piece.name.end(),
                      [](char c) { return IsKeyChar(c) || c == '.'; });
      piece.error =
          looks_like_name
              ? absl::StrCat("invalid variable name \"", piece.name,
                             "\" in placeholder \"", piece.text,
                             "\" at offset ", pos, ": ", kVariableNameRule)
              : absl::StrCat("invalid placeholder \"", piece.text,
                             "\" at offset ", pos);
    }
    pos = close + 2;
    return piece;
  }
  if (absl::StartsWith(text.substr(pos), "}}")) {
    piece.kind = Piece::kError;
    piece.text = text.substr(pos, 2);
    piece.error = absl::StrCat("stray \"}}\" at offset ", pos);
    pos += 2;
    return piece;
  }
  // Literal text up to the next brace pair.
  size_t end = pos + 1;
  while (end < text.size()) {
    const absl::string_view rest = text.substr(end);
    if (absl::StartsWith(rest, "{{") || absl::StartsWith(rest, "{%") ||
        absl::StartsWith(rest, "}}")) {
      break;
    }
    ++end;
  }
  piece.text = text.substr(pos, end - pos);
  pos = end;
  return piece;
}

}  // namespace

bool IsValidVariableName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxVariableNameLength) return false;
  if (name.front() < 'a' || name.front() > 'z') return false;
  bool segment_empty = false;
  for (char c : name) {
    if (c == '.') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if (IsKeyChar(c)) {
      segment_empty = false;
    } else {
      return false;
    }
  }
  return !segment_empty;
}

absl::Status ValidateTemplate(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    Piece piece = NextPiece(text, pos);
    if (piece.kind == Piece::kError)
      return absl::InvalidArgumentError(piece.error);
  }
  return absl::OkStatus();
}

ResolvedText ResolveTemplate(
    absl::string_view text,
    const std::map<std::string, std::string>& variables) {
  ResolvedText resolved;
  size_t pos = 0;
  while (pos < text.size()) {
    Piece piece = NextPiece(text, pos);
    if (piece.kind != Piece::kPlaceholder) {
      resolved.text.append(piece.text.data(), piece.text.size());
      continue;
    }
    auto it = variables.find(std::string(piece.name));
    if (it != variables.end()) {
      resolved.text += it->second;
      continue;
    }
    resolved.text.append(piece.text.data(), piece.text.size());
    const std::string name(piece.name);
    if (std::find(resolved.missing_variables.begin(),
                  resolved.missing_variables.end(),
                  name) == resolved.missing_variables.end()) {
      resolved.missing_variables.push_back(name);
    }
  }
  return resolved;
}

}  // namespace sequencer::domain
