/** @odoo-module **/
/** Small formatting helpers shared by the panes (dates like a mail client, sizes, names). */
import { deserializeDateTime } from "@web/core/l10n/dates";

const { DateTime } = luxon;

function toDateTime(value) {
    if (!value) {
        return null;
    }
    return value instanceof DateTime ? value : deserializeDateTime(value);
}

/** Today: 14:05; this year: 21 Nov; older: 21/11/2024. */
export function shortDate(value) {
    const date = toDateTime(value);
    if (!date) {
        return "";
    }
    const now = DateTime.local();
    if (date.hasSame(now, "day")) {
        return date.toLocaleString(DateTime.TIME_SIMPLE);
    }
    if (date.hasSame(now, "year")) {
        return date.toLocaleString({ day: "numeric", month: "short" });
    }
    return date.toLocaleString(DateTime.DATE_SHORT);
}

export function longDate(value) {
    const date = toDateTime(value);
    return date ? date.toLocaleString(DateTime.DATETIME_MED_WITH_WEEKDAY) : "";
}

export function relativeDate(value) {
    const date = toDateTime(value);
    return date ? date.toRelative() : "";
}

export function humanSize(bytes) {
    if (!bytes && bytes !== 0) {
        return "";
    }
    const units = ["B", "KB", "MB", "GB"];
    let size = bytes;
    let unit = 0;
    while (size >= 1024 && unit < units.length - 1) {
        size /= 1024;
        unit++;
    }
    return `${unit ? size.toFixed(size < 10 ? 1 : 0) : size} ${units[unit]}`;
}

/** "Ada Lovelace <ada@example.com>" -> "Ada Lovelace"; a bare address stays as is. */
export function displayName(address) {
    if (!address) {
        return "";
    }
    const match = /^\s*"?([^"<]*?)"?\s*<([^>]+)>/.exec(address);
    if (match) {
        return match[1].trim() || match[2];
    }
    return address.trim();
}

export function initials(name) {
    const words = (name || "?").replace(/[^\p{L}\p{N} ]/gu, " ").trim().split(/\s+/);
    return ((words[0] || "?")[0] + (words.length > 1 ? words[words.length - 1][0] : "")).toUpperCase();
}
