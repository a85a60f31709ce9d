"""Federation work: resolving remote actors, processing the inbox, publishing, delivering."""
