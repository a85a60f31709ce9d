// The one script of the pages, and they work without it: the server writes "5 min ago" and the
// UTC time in the tooltip; this puts the reader's local time there instead.
"use strict";
for (const t of document.querySelectorAll("time[datetime]")) {
  const d = new Date(t.getAttribute("datetime"));
  if (!Number.isNaN(d.getTime())) {
    t.title = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
}
