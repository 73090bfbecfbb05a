"""Reports: metrics arithmetic (:mod:`.metrics`), assembling a report from the store
(:mod:`.collect`), CSV/JSON export (:mod:`.export`) and the HTML page (:mod:`.html`)."""
