-- When a link was last clicked (as of the last flush), for Last-Modified on link reads.
ALTER TABLE links ADD COLUMN last_click_at INTEGER;
