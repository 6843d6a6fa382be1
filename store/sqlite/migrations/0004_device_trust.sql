-- 0003: device trust for login throttling (see auth.ThrottleStore). A
-- device token carries the generation it was issued under; bumping the
-- generation revokes every device of the user at once, so nothing is
-- stored per device.
CREATE TABLE device_generations (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL
) WITHOUT ROWID;
