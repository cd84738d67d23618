// Strings from listings and file names only ever reach the page as text, never as markup.

// Only web links are made clickable: a listing URL is data, never script.
export function webUrl(value) {
  return typeof value === 'string' && /^https?:\/\//i.test(value.trim()) ? value.trim() : null;
}

export function formatNumber(value) {
  return typeof value === 'number' ? value.toLocaleString('en-US') : String(value);
}

export function setText(element, value) {
  element.textContent = value === null || value === undefined || value === '' ? '\u2014' : String(value);
}

// decodeURIComponent that returns null for a malformed escape (e.g. "%E0%A4%A") instead of throwing.
export function safeDecode(value) {
  try {
    return decodeURIComponent(value);
  } catch (error) {
    return null;
  }
}

export function csvField(value) {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}

export function option(value, label) {
  const element = document.createElement('option');
  element.value = value;
  element.textContent = label;
  return element;
}
