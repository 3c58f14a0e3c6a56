-- People who asked for the status page's incident updates by email: confirmed through a link
-- (double opt-in), removed through the link in every message.
CREATE TABLE status_subscribers (
    id           TEXT PRIMARY KEY,
    email        TEXT NOT NULL UNIQUE,       -- lower-cased
    token        TEXT NOT NULL UNIQUE,       -- in the confirm and unsubscribe links
    confirmed    BIGINT NOT NULL,            -- 0 until the link is followed
    created      BIGINT NOT NULL,
    confirmed_at BIGINT
);
