#!/bin/bash
# First start: create the database, install the MailDesk addons, add the demo mailbox.
# Every start: run Odoo on that database. Install state is read from the database itself,
# so a first start that was interrupted simply runs the install again.
set -euo pipefail

DB="${MAILDESK_DB:-maildesk}"
ADDONS="${MAILDESK_ADDONS:-maildesk_mail_client}"
ADDONS_PATH="/mnt/maildesk,/usr/lib/python3/dist-packages/odoo/addons"
DB_ARGS=(--db_host "${HOST:-db}" --db_port "${PORT:-5432}" --db_user "${USER:-odoo}" --db_password "${PASSWORD:-odoo}")
export PGHOST="${HOST:-db}" PGPORT="${PORT:-5432}" PGUSER="${USER:-odoo}" PGPASSWORD="${PASSWORD:-odoo}"

wait-for-psql.py "${DB_ARGS[@]}" --timeout=60

# The IMAP IDLE listener (compose service "listener"): waits until the odoo service has
# installed the addons, then runs as its own process (see README, Architecture notes).
if [[ "${1:-}" == "maildesk-listener" ]]; then
    shift
    until [[ "$(psql -d "$DB" -tAc "SELECT state FROM ir_module_module WHERE name = 'maildesk_mail_client'" \
                2>/dev/null || true)" == "installed" ]]; do
        echo "maildesk-listener: waiting for the addons to be installed in $DB"
        sleep 5
    done
    exec odoo --addons-path="$ADDONS_PATH" maildesk-listener "${DB_ARGS[@]}" -d "$DB" "$@"
fi

state=$(psql -d "$DB" -tAc "SELECT state FROM ir_module_module WHERE name = 'maildesk_mail_client'" 2>/dev/null || true)
if [[ "$state" != "installed" ]]; then
    echo "maildesk: installing $ADDONS into database $DB (first start)"
    odoo "${DB_ARGS[@]}" -d "$DB" --addons-path="$ADDONS_PATH" -i "$ADDONS" \
        --without-demo=all --load-language=en_US --stop-after-init
    odoo shell "${DB_ARGS[@]}" -d "$DB" --addons-path="$ADDONS_PATH" --no-http \
        < /usr/local/share/maildesk/seed_demo.py
fi

exec odoo "${DB_ARGS[@]}" -d "$DB" --db-filter="^${DB}\$" --addons-path="$ADDONS_PATH" "$@"
