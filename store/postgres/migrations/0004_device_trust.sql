-- 0003: device trust for login throttling, as store/sqlite's 0003. A
-- device token carries the generation it was issued under; bumping the
-- generation revokes every device of the user at once, so nothing is
-- stored per device.
CREATE TABLE device_generations (
    user_id    text COLLATE "C" NOT NULL,
    generation bigint NOT NULL,
    CONSTRAINT device_generations_pkey PRIMARY KEY (user_id),
    CONSTRAINT device_generations_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
