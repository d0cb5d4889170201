#pragma once
#include <string>

struct _xmlError;
struct _xmlTextReader;

namespace sennen::util {

// What libxml2 reports on this thread while this lives; keeps the first message, as
// "<message> (line N)". A reader's own handler hears only part of it: an encoding libxml2 cannot
// handle, bytes its converter refuses and I/O failures go to the thread's global handlers, which
// print them on stderr, where the journal shows them without the file they are about, several
// lines per read. So make one before the reader is created (some of these come while it is), and
// watch() the reader. The thread's previous handlers come back when it ends; nothing outside this
// thread is touched (libxml2 keeps its handlers per thread).
class XmlErrors {
 public:
  XmlErrors();
  ~XmlErrors();
  XmlErrors(const XmlErrors&) = delete;
  XmlErrors& operator=(const XmlErrors&) = delete;

  void watch(_xmlTextReader* reader);
  const std::string& first() const { return first_; }

 private:
  using Structured = void (*)(void*, _xmlError*);
  using Generic = void (*)(void*, const char*, ...);

  std::string first_;
  Structured previous_structured_;
  void* previous_structured_context_;
  Generic previous_generic_;
  void* previous_generic_context_;
};

}  // namespace sennen::util
