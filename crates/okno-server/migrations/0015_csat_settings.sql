-- How the center asks for satisfaction marks (issue 18), as admins and team leads set it in the
-- window: an okno_rules::CsatSettings as JSON. NULL until first saved; until then the `[csat]`
-- section of the config file gives the settings.
ALTER TABLE deployment ADD COLUMN csat_settings JSONB;
-- The scale each question was asked on: its answer is read on that scale even after the
-- center changed it (NULL: asked before this column, on the settings' scale).
ALTER TABLE csat_requests ADD COLUMN scale TEXT;
