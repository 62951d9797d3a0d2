// The markdown subset of posts, and its plain rendering for a terminal.
//
// Inline: **bold**, *italic* or _italic_, `code`, [text](http…/https… link).
// Lines: "> " a quote, "- " or "* " a list item. Nothing else is markup (no headings,
// tables, HTML or images: attachments are images). The text is stored as written; every
// reader renders it, so a node that does not render shows readable text anyway.

const INLINE = /\*\*([^*\n]+)\*\*|`([^`\n]+)`|\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)|(?<![\w*])\*([^*\n]+)\*(?![\w*])|(?<!\w)_([^_\n]+)_(?!\w)/g

/** One line's inline markup: markers dropped, a link as "text <url>"; `style` wraps emphasis (ANSI on a terminal). */
function renderInline (line: string, style: Style): string {
  return line.replace(INLINE, (_m, bold?: string, code?: string, linkText?: string, url?: string, star?: string, under?: string) => {
    if (bold !== undefined) return style.bold(bold)
    if (code !== undefined) return style.code(code)
    if (linkText !== undefined && url !== undefined) return `${linkText} <${url}>`
    return style.italic(star ?? under ?? '')
  })
}

export interface Style {
  bold: (s: string) => string
  italic: (s: string) => string
  code: (s: string) => string
}

export const PLAIN: Style = { bold: (s) => s, italic: (s) => s, code: (s) => s }
export const ANSI: Style = { bold: (s) => `\x1b[1m${s}\x1b[22m`, italic: (s) => `\x1b[3m${s}\x1b[23m`, code: (s) => `\x1b[2m${s}\x1b[22m` }

/** The post's text as terminal lines: quotes behind "│ ", list items behind "• ". */
export function renderMarkdown (text: string, style: Style = PLAIN): string[] {
  return text.split('\n').map((line) => {
    const quote = /^>\s?(.*)$/.exec(line)
    if (quote !== null) return `│ ${renderInline(quote[1] ?? '', style)}`
    const item = /^\s*[-*]\s+(.*)$/.exec(line)
    if (item !== null) return `• ${renderInline(item[1] ?? '', style)}`
    return renderInline(line, style)
  })
}

/** `@token`s in a post's text: an account key prefix (8+ hex digits) or a profile name. */
export function mentionTokens (text: string): string[] {
  return [...new Set([...text.matchAll(/(?<![\w@])@([\p{L}\p{N}_.-]{1,64})/gu)].map((m) => (m[1] ?? '').replace(/[.-]+$/, '')).filter((t) => t !== ''))]
}
