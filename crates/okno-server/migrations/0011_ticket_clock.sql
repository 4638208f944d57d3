-- The SLA clock's bookkeeping follows every status change, whoever makes it (a desk's push, mail
-- reopening a ticket, the website chat ending, the rules, a satisfaction mark, a merge): waiting
-- on the customer opens a pause and leaving `pending` closes it; resolving or closing stamps
-- `resolved_at` (kept from resolved to closed), anything else clears it. The time is the row's
-- `updated_at`, which every path sets to the moment of the change.
CREATE FUNCTION okno_ticket_clock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'pending' AND OLD.status <> 'pending' THEN
        NEW.sla_pauses := NEW.sla_pauses || jsonb_build_array(jsonb_build_object('from', NEW.updated_at, 'until', NULL));
    ELSIF OLD.status = 'pending' AND jsonb_array_length(NEW.sla_pauses) > 0 THEN
        NEW.sla_pauses := jsonb_set(NEW.sla_pauses,
            ARRAY[(jsonb_array_length(NEW.sla_pauses) - 1)::text, 'until'], to_jsonb(NEW.updated_at));
    END IF;
    IF NEW.status IN ('resolved', 'closed') THEN
        NEW.resolved_at := COALESCE(OLD.resolved_at, NEW.updated_at);
    ELSE
        NEW.resolved_at := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER tickets_clock BEFORE UPDATE OF status ON tickets
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION okno_ticket_clock();
