//! Just enough of SQL's lexical rules to read what neither engine's catalogue states as data:
//! SQLite's CHECK constraints, partial-index predicates and trigger headers (kept only as the
//! text of their `CREATE` statement), and PostgreSQL's deparsed expressions.

/// One lexical token; quoting is removed from identifiers, comments and whitespace are dropped.
#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    Word(String),
    Text(String),
    Number(String),
    Punct(char),
}

pub fn tokens(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let rest = |from: usize| chars[from..].iter();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            i += rest(i).position(|&c| c == '\n').unwrap_or(chars.len() - i);
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let end = chars[i + 2..].windows(2).position(|w| w == ['*', '/']);
            i = end.map_or(chars.len(), |e| i + 2 + e + 2);
        } else if matches!(c, '\'' | '"' | '`') {
            let (text, next) = quoted(&chars, i + 1, c);
            out.push(if c == '\'' {
                Token::Text(text)
            } else {
                Token::Word(text)
            });
            i = next;
        } else if c.is_ascii_digit() {
            let len = rest(i)
                .take_while(|c| c.is_ascii_digit() || **c == '.')
                .count();
            out.push(Token::Number(chars[i..i + len].iter().collect()));
            i += len;
        } else if c.is_alphanumeric() || c == '_' {
            let len = rest(i)
                .take_while(|c| c.is_alphanumeric() || **c == '_' || **c == '$')
                .count();
            out.push(Token::Word(chars[i..i + len].iter().collect()));
            i += len;
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The text of a quoted token starting after its opening quote (a doubled quote is one quote),
/// and the index after its closing quote. (SQLite's `[name]` quoting is not read: `[` opens
/// PostgreSQL's array literals, and our migrations do not use it.)
fn quoted(chars: &[char], mut i: usize, close: char) -> (String, usize) {
    let mut text = String::new();
    while i < chars.len() {
        if chars[i] == close {
            if chars.get(i + 1) == Some(&close) {
                text.push(close);
                i += 2;
                continue;
            }
            return (text, i + 1);
        }
        text.push(chars[i]);
        i += 1;
    }
    (text, i)
}

impl Token {
    pub fn is_word(&self, word: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(word))
    }
}

/// The tokens inside the parenthesis that opens at `tokens[open]`, and the index after it.
pub fn parenthesised(tokens: &[Token], open: usize) -> (&[Token], usize) {
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return (&tokens[open + 1..i], i + 1);
                }
            }
            _ => {}
        }
    }
    (&tokens[open + 1..], tokens.len())
}

/// What an expression is about, in terms both engines spell the same: the table's columns it
/// names (sorted) and its literals (in order). `a IN ('x', 'y')` and PostgreSQL's deparsed
/// `(a = ANY (ARRAY['x'::text, 'y'::text]))` both become `on (a) values ('x', 'y')`; the
/// operators are not compared.
pub fn expression_summary(expression: &[Token], columns: &[String]) -> String {
    let mut named: Vec<&str> = Vec::new();
    let mut literals: Vec<String> = Vec::new();
    let mut after_cast = false;
    for token in expression {
        match token {
            // `::text` is a type, even where a column is called `text`.
            Token::Word(_) if after_cast => {}
            Token::Word(w) => {
                if let Some(column) = columns.iter().find(|c| c.eq_ignore_ascii_case(w)) {
                    named.push(column);
                }
            }
            Token::Text(t) => literals.push(format!("'{t}'")),
            Token::Number(n) => literals.push(n.clone()),
            Token::Punct(_) => {}
        }
        after_cast = matches!(token, Token::Punct(':'));
    }
    named.sort_unstable();
    named.dedup();
    let mut summary = format!("on ({})", named.join(", "));
    if !literals.is_empty() {
        summary += &format!(" values ({})", literals.join(", "));
    }
    summary
}

#[test]
fn both_spellings_of_a_value_list_summarise_the_same() {
    let columns = ["period".to_owned(), "text".to_owned()];
    let sqlite = tokens("period IN ('week', 'month', 'year') -- a comment naming text");
    let postgres =
        tokens("CHECK ((period = ANY (ARRAY['week'::text, 'month'::text, 'year'::text])))");
    assert_eq!(
        expression_summary(&sqlite, &columns),
        "on (period) values ('week', 'month', 'year')"
    );
    assert_eq!(
        expression_summary(&postgres, &columns),
        expression_summary(&sqlite, &columns)
    );
}

#[test]
fn parentheses_nest_and_quotes_are_removed() {
    let all = tokens(r#"CHECK ("a" >= (1 + 2)) , x"#);
    let (inside, next) = parenthesised(&all, 1);
    assert_eq!(inside.len(), 8);
    assert_eq!(inside[0], Token::Word("a".into()));
    assert_eq!(all[next], Token::Punct(','));
}
