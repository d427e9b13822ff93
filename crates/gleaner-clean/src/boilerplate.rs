//! Blogger furniture that survives extraction: comment counters, "Post a Comment", share rows,
//! post navigation, feed links, "Powered by Blogger." — in the languages Blogger is used in:
//! English, German, Spanish, French, Portuguese, Italian, Polish, Dutch, Indonesian, Turkish
//! and Russian in full (classic layouts and current themes; `tests/ui_strings.rs` checks
//! every string), with the commonest strings in Ukrainian and the Scandinavian languages.
//!
//! A line is boilerplate only when it is made *entirely* of such phrases (and separators), or
//! matches one of a few whole-line shapes (a "Note: … blog …" comment notice, a feed link ending
//! in "(Atom)", a "Labels:" row, a "Posted by … at 9:35 AM" byline). A sentence that merely
//! contains the words — "I had no comments on the Kremlin's statement." — is never matched.

use std::sync::{LazyLock, OnceLock};

use regex::Regex;

/// Phrases that, alone or strung together, make a boilerplate line. Lowercase, with straight
/// apostrophes. Written for this project from Blogger's interface strings as they appear on
/// published blogs; translations are the usual Blogger ones or close paraphrases of them.
const PHRASES: &[&str] = &[
    // English
    "no comments",
    "post a comment",
    "post comments",
    "newer post",
    "older post",
    "newer posts",
    "older posts",
    "home",
    "share this post",
    "share this",
    "share",
    "email this",
    "blogthis!",
    "blogthis",
    "share to twitter",
    "share to facebook",
    "share to pinterest",
    "share to x",
    "powered by blogger",
    "subscribe to",
    "posts",
    "comments",
    "links to this post",
    "create a link",
    "leave a comment",
    "add comment",
    "read more",
    "loading...",
    "loading",
    "show more",
    "show less",
    "reply",
    "replies",
    "delete",
    "view web version",
    "view mobile version",
    "reactions",
    "skip to main content",
    "search this blog",
    // Sidebar widget titles, when a widget's heading slips into the body.
    "popular posts",
    "blog archive",
    "about me",
    "view my complete profile",
    "followers",
    "report abuse",
    "contributors",
    "translate",
    "recent posts",
    "featured post",
    // German
    "keine kommentare",
    "kommentar veröffentlichen",
    "kommentar posten",
    "kommentare posten",
    "neuerer post",
    "älterer post",
    "neuere posts",
    "ältere posts",
    "startseite",
    "bereitgestellt von blogger",
    "abonnieren",
    "kommentare zum post",
    "diesen post teilen",
    "per e-mail versenden",
    "in twitter freigeben",
    "in facebook freigeben",
    "auf pinterest teilen",
    "auf x teilen",
    "teilen",
    "dieses blog durchsuchen",
    "antworten",
    "löschen",
    // Spanish
    "no hay comentarios",
    "publicar un comentario",
    "entrada más reciente",
    "entrada antigua",
    "entradas más recientes",
    "entradas antiguas",
    "página principal",
    "inicio",
    "con la tecnología de blogger",
    "con tecnología de blogger",
    "suscribirse a",
    "enviar comentarios",
    "entradas",
    "comentarios de la entrada",
    "enviar por correo electrónico",
    "escribe un blog",
    "compartir con twitter",
    "compartir con facebook",
    "compartir en pinterest",
    "compartir en x",
    "compartir",
    "responder",
    "eliminar",
    // French
    "aucun commentaire",
    "publier un commentaire",
    "article plus récent",
    "article plus ancien",
    "articles plus récents",
    "articles plus anciens",
    "accueil",
    "fourni par blogger",
    "optimisé par blogger",
    "s'abonner à",
    "publier les commentaires",
    "messages",
    "articles",
    "envoyer par e-mail",
    "partager sur twitter",
    "partager sur facebook",
    "partager sur pinterest",
    "partager sur x",
    "partager",
    "répondre",
    "supprimer",
    // Polish
    "brak komentarzy",
    "prześlij komentarz",
    "opublikuj komentarz",
    "nowszy post",
    "starszy post",
    "nowsze posty",
    "starsze posty",
    "strona główna",
    "obsługiwane przez usługę blogger",
    "obsługiwane przez blogger",
    "dostarczane przez blogger",
    "subskrybuj",
    "komentarze do posta",
    "posty",
    "wyślij pocztą e-mail",
    "wrzuć na bloga",
    "udostępnij w usłudze twitter",
    "udostępnij w usłudze facebook",
    "udostępnij w serwisie pinterest",
    "udostępnij",
    "odpowiedz",
    "usuń",
    // Portuguese
    "nenhum comentário",
    "sem comentários",
    "postar um comentário",
    "enviar um comentário",
    "postagem mais recente",
    "postagem mais antiga",
    "mensagem mais recente",
    "mensagem antiga",
    "postagens mais recentes",
    "postagens mais antigas",
    "página inicial",
    "início",
    "tecnologia do blogger",
    "com tecnologia do blogger",
    "assinar",
    "postar comentários",
    "postagens",
    "mensagens",
    "enviar por e-mail",
    "compartilhar no twitter",
    "compartilhar no facebook",
    "compartilhar com o pinterest",
    "compartilhar no pinterest",
    "partilhar no twitter",
    "partilhar no facebook",
    "partilhar no pinterest",
    "compartilhar",
    "partilhar",
    "dar blogthis!",
    "responder",
    "excluir",
    // Italian
    "nessun commento",
    "posta un commento",
    "post più recente",
    "post più vecchio",
    "post più recenti",
    "post più vecchi",
    "home page",
    "fornito da blogger",
    "tecnologia di blogger",
    "iscriviti a",
    "commenti sul post",
    "post",
    "invia tramite email",
    "condividi su twitter",
    "condividi su facebook",
    "condividi su pinterest",
    "condividi",
    "scrivi sul blog",
    "rispondi",
    "elimina",
    // Indonesian
    "tidak ada komentar",
    "posting komentar",
    "poskan komentar",
    "posting lebih baru",
    "posting lama",
    "postingan lebih baru",
    "postingan lama",
    "beranda",
    "diberdayakan oleh blogger",
    "didukung oleh blogger",
    "langganan",
    "berlangganan",
    "postingan",
    "posting",
    "kirimkan ini lewat email",
    "bagikan ke twitter",
    "bagikan ke facebook",
    "bagikan ke pinterest",
    "bagikan",
    "balas",
    "hapus",
    // Dutch
    "geen opmerkingen",
    "geen reacties",
    "een reactie posten",
    "reactie plaatsen",
    "nieuwere post",
    "oudere post",
    "nieuwere berichten",
    "oudere berichten",
    "startpagina",
    "mogelijk gemaakt door blogger",
    "aangedreven door blogger",
    "abonneren op",
    "reacties posten",
    "dit e-mailen",
    "delen op twitter",
    "delen op facebook",
    "delen op pinterest",
    "delen",
    // Russian, Ukrainian
    "нет комментариев",
    "отправить комментарий",
    "опубликовать комментарий",
    "новые сообщения",
    "предыдущие сообщения",
    "следующее",
    "предыдущее",
    "главная страница",
    "главная",
    "на платформе blogger",
    "технологии blogger",
    "подписаться на",
    "комментарии к сообщению",
    "сообщения",
    "немає коментарів",
    "опублікувати коментар",
    "головна сторінка",
    // Turkish
    "yorum yok",
    "yorum gönder",
    "sonraki kayıt",
    "önceki kayıt",
    "ana sayfa",
    "blogger tarafından desteklenmektedir",
    "kaydol",
    "kayıt yorumları",
    "kayıtlar",
    // Scandinavian
    "inga kommentarer",
    "ingen kommentarer",
    "skicka en kommentar",
    "send en kommentar",
    "legg inn en kommentar",
    "nyere innlegg",
    "eldre innlegg",
    "nyare inlägg",
    "äldre inlägg",
    "startsida",
    "hjem",
    // Current themes (Contempo, Soho, Emporio, Notable, Essential): the share popup, the
    // related-posts heading and the comment section, in the same languages.
    "get link",
    "other apps",
    "popular posts from this blog",
    "link abrufen",
    "andere apps",
    "beliebte posts aus diesem blog",
    "diesen post per e-mail versenden",
    "kommentare",
    "mehr anzeigen",
    "weniger anzeigen",
    "weiterlesen",
    "missbrauch melden",
    "obtener enlace",
    "otras aplicaciones",
    "entradas populares de este blog",
    "comentarios",
    "mostrar más",
    "mostrar menos",
    "leer más",
    "denunciar abuso",
    "compartir con x",
    "inscription à",
    "obtenir le lien",
    "autres applications",
    "articles les plus consultés de ce blog",
    "commentaires",
    "afficher plus",
    "afficher moins",
    "lire la suite",
    "signaler un abus",
    "subscrever",
    "enviar feedback",
    "postar no blog!",
    "postar no blog",
    "compartilhar no x",
    "gerar link",
    "outros apps",
    "postagens mais visitadas deste blog",
    "comentários",
    "mostrar mais",
    "leia mais",
    "postalo sul blog",
    "condividi su x",
    "ottieni link",
    "altre app",
    "post popolari da questo blog",
    "commenti",
    "mostra altro",
    "mostra meno",
    "leggi tutto",
    "segnala un uso illecito",
    "udostępnij w usłudze x",
    "pobierz link",
    "inne aplikacje",
    "popularne posty z tego bloga",
    "komentarze",
    "pokaż więcej",
    "pokaż mniej",
    "czytaj więcej",
    "zgłoś nadużycie",
    "homepage",
    "dit bloggen!",
    "dit bloggen",
    "delen op x",
    "link ophalen",
    "populaire posts van deze blog",
    "reacties",
    "meer weergeven",
    "minder weergeven",
    "misbruik melden",
    "berbagi ke twitter",
    "berbagi ke facebook",
    "berbagi ke x",
    "bagikan ke x",
    "dapatkan link",
    "aplikasi lainnya",
    "postingan populer dari blog ini",
    "komentar",
    "tampilkan lainnya",
    "tampilkan lebih sedikit",
    "baca selengkapnya",
    "laporkan penyalahgunaan",
    "paylaş",
    "bunu e-postayla gönder",
    "twitter'da paylaş",
    "facebook'ta paylaş",
    "pinterest'te paylaş",
    "x'te paylaş",
    "bağlantıyı al",
    "diğer uygulamalar",
    "bu blogdaki popüler yayınlar",
    "yorumlar",
    "daha fazlasını göster",
    "daha az göster",
    "devamını oku",
    "kötüye kullanımı bildir",
    "комментариев нет",
    "новое сообщение",
    "старое сообщение",
    "следующее сообщение",
    "предыдущее сообщение",
    "поделиться",
    "отправить по электронной почте",
    "написать об этом в блоге",
    "опубликовать в twitter",
    "опубликовать в facebook",
    "опубликовать в x",
    "поделиться в pinterest",
    "получить ссылку",
    "другие приложения",
    "популярные сообщения из этого блога",
    "комментарии",
    "показать больше",
    "показать меньше",
    "читать дальше",
    "пожаловаться",
];

/// Words that are furniture only next to a phrase of [`PHRASES`]: the network names and
/// "Email" of a share row ("Get link Facebook X Pinterest Email Other Apps"). Alone, a line
/// "Facebook" may be an article's own heading, so it stays.
const WEAK_PHRASES: &[&str] = &[
    "facebook",
    "twitter",
    "x",
    "pinterest",
    "email",
    "e-mail",
    "e-posta",
    "correo electrónico",
    "электронная почта",
    "whatsapp",
    "linkedin",
    "reddit",
    "tumblr",
];

/// Phrases (strong ones `true`) sorted longest first, so that "share to twitter" wins over
/// "share".
static SORTED_PHRASES: LazyLock<Vec<(&'static str, bool)>> = LazyLock::new(|| {
    let mut v: Vec<(&'static str, bool)> = PHRASES
        .iter()
        .map(|p| (*p, true))
        .chain(WEAK_PHRASES.iter().map(|p| (*p, false)))
        .collect();
    v.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    v
});

/// [`SORTED_PHRASES`] by their first byte (the same order inside each list): a line is
/// compared only with the phrases that can start it.
static PHRASES_BY_FIRST_BYTE: LazyLock<Vec<Vec<(&'static str, bool)>>> = LazyLock::new(|| {
    let mut by_byte = vec![Vec::new(); 256];
    for &(p, strong) in SORTED_PHRASES.iter() {
        if let Some(list) = p
            .bytes()
            .next()
            .and_then(|b| by_byte.get_mut(usize::from(b)))
        {
            list.push((p, strong));
        }
    }
    by_byte
});

/// A regular expression of a line shape, compiled the first time a line could match it:
/// `may_match` is a cheap test that every match passes (the literal words the pattern must
/// start with, or must contain), so most lines, and most runs, never compile or run it (the
/// patterns' Unicode classes and bounded repeats cost ~55 M instructions to compile, a fifth
/// of a one-page `gleaner extract`).
struct Shape {
    pattern: &'static str,
    may_match: fn(&str) -> bool,
    strong: bool,
    regex: OnceLock<Option<Regex>>,
}

impl Shape {
    const fn new(pattern: &'static str, may_match: fn(&str) -> bool, strong: bool) -> Self {
        Shape {
            pattern,
            may_match,
            strong,
            regex: OnceLock::new(),
        }
    }

    /// The compiled pattern when `text` may match it (a pattern that does not compile
    /// matches nothing).
    fn regex_for(&self, text: &str) -> Option<&Regex> {
        if !(self.may_match)(text) {
            return None;
        }
        self.regex
            .get_or_init(|| Regex::new(self.pattern).ok())
            .as_ref()
    }

    fn is_match(&self, text: &str) -> bool {
        self.regex_for(text).is_some_and(|re| re.is_match(text))
    }

    /// Where a match at the start of `text` ends (the patterns are anchored).
    fn find_end(&self, text: &str) -> Option<usize> {
        self.regex_for(text)
            .and_then(|re| re.find(text))
            .map(|m| m.end())
    }
}

fn starts_with_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.starts_with(w))
}

/// The words a byline starts with (`posted by|eingestellt von|…` in the patterns below).
const BYLINE_STARTS: &[&str] = &[
    "posted by",
    "eingestellt von",
    "publicado por",
    "publicada por",
    "publié par",
    "opublikowane przez",
    "postado por",
    "postada por",
    "pubblicato da",
    "diposting oleh",
    "geplaatst door",
    "gepost door",
    "опубликовано",
    "автор",
];

/// `^(at|um|…) \d`: one of the words, a space, a digit (char::is_numeric holds for every
/// `\d`).
fn may_be_time(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "at", "um", "a las", "en", "à", "às", "à(s)", "alle", "o", "di", "pada", "om", "в", "на",
    ];
    WORDS.iter().any(|w| {
        text.strip_prefix(w)
            .and_then(|r| r.strip_prefix(' '))
            .and_then(|r| r.chars().next())
            .is_some_and(char::is_numeric)
    })
}

/// Phrase shapes that can start at any point of a boilerplate line ("12 comments:",
/// "(Atom)", "Simple theme.", "Theme images by Someone."), tried in this order.
static PREFIX_SHAPES: [Shape; 7] = [
    Shape::new(
        r"^\d{1,6} (comments?|kommentare?|comentarios?|commentaires?|komentarz[eya]?|comentários?|comment[oi]|komentar|reacties?|opmerkingen|opmerking|комментари[йяев]{1,2}|коментар[іів]{0,2}|yorum|kommentarer)\b",
        |t| t.chars().next().is_some_and(char::is_numeric),
        true,
    ),
    Shape::new(r"^\(atom\)", |t| t.starts_with("(atom)"), true),
    // A byline followed by more furniture on the same line: "Posted by Anna at 9:35 AM
    // No comments: Email This BlogThis! …" (a classic post footer pasted as one line).
    Shape::new(
        r"^(posted by|eingestellt von|publicado por|publicada por|publié par|opublikowane przez|postado por|postada por|pubblicato da|diposting oleh|geplaatst door|gepost door)\s[^.!?:]{1,60}?\s(at|um|a las|en|à|o|às|à\(s\)|alle|di|pada|om)\s\d{1,2}[:.]\d{2}(\s?[ap]\.?m\.?)?",
        |t| starts_with_any(t, BYLINE_STARTS),
        true,
    ),
    // The time of a byline on its own: "at 9:35 AM", "um 21:11", "di 09.35". Weak: a
    // timetable line "at 9:35" stays unless it sits among furniture.
    Shape::new(
        r"^(at|um|a las|en|à|às|à\(s\)|alle|o|di|pada|om|в|на) \d{1,2}[:.]\d{2}( ?[ap]\.?m\.?)?",
        may_be_time,
        false,
    ),
    Shape::new(
        r"^(thème|tema|thema|motyw) (simple|picture window|awesome inc\.?|watermark|filigrane|marca de agua|ethereal|travel|voyage|viajes|contempo|soho|emporio|notable|essential)\b",
        |t| starts_with_any(t, &["thème ", "tema ", "thema ", "motyw "]),
        true,
    ),
    Shape::new(
        r"^(simple|watermark|picture window|awesome inc\.?|ethereal|travel|contempo|soho|emporio|notable|essential|dynamic views) (theme|motyw|thema|tema|thème)\b",
        |t| {
            starts_with_any(
                t,
                &[
                    "simple",
                    "watermark",
                    "picture window",
                    "awesome inc",
                    "ethereal",
                    "travel",
                    "contempo",
                    "soho",
                    "emporio",
                    "notable",
                    "essential",
                    "dynamic views",
                ],
            )
        },
        true,
    ),
    Shape::new(
        r"^(theme images by|designbilder von|imágenes del tema|images de thèmes de|obrazy motywu|imagens de tema por|immagini dei temi di|gambar tema oleh) [^.]{1,60}\.?",
        |t| {
            starts_with_any(
                t,
                &[
                    "theme images by",
                    "designbilder von",
                    "imágenes del tema",
                    "images de thèmes de",
                    "obrazy motywu",
                    "imagens de tema por",
                    "immagini dei temi di",
                    "gambar tema oleh",
                ],
            )
        },
        true,
    ),
];

/// Whole-line shapes.
static LINE_SHAPES: [Shape; 6] = [
    // "Note: Only a member of this blog may post a comment." and its translations.
    // It needs both a "member" word and "blog", so "Note: this blog post …" stays.
    // ("Примечание." takes a full stop; Turkish names the blog before the member.)
    Shape::new(
        r"^(note|hinweis|nota|remarque|uwaga|catatan|opmerking|observação|observacao|примечание|примітка|not|obs)\s*[:.].{0,100}(\b(member|mitglied|miembro|membre|członk|uczestnik|membro|membri|anggota|lid|leden|участник|член|учасник|üye|medlem)\w*\b.{0,60}\b(blog|блог)|\b(blog|блог)\w*\s.{0,60}\b(üye|member))",
        |t| {
            starts_with_any(
                t,
                &[
                    "not",
                    "hinweis",
                    "remarque",
                    "uwaga",
                    "catatan",
                    "opmerking",
                    "obs",
                    "примечание",
                    "примітка",
                ],
            )
        },
        true,
    ),
    // "Posted by Name at 9:35 AM" bylines.
    Shape::new(
        r"^(posted by|eingestellt von|publicado por|publicada por|publié par|opublikowane przez|postado por|postada por|pubblicato da|diposting oleh|geplaatst door|gepost door|опубликовано|автор:?)\s[^.!?]{1,60}?\s(at|um|a las|en|à|o|às|à\(s\)|alle|di|pada|om|в|на)\s\d{1,2}[:.]\d{2}(\s?[ap]\.?m\.?)?$",
        |t| starts_with_any(t, BYLINE_STARTS),
        true,
    ),
    // A byline with a date: "Publicado por Jorge en jueves, enero 13, 2011".
    Shape::new(
        r"^(posted by|eingestellt von|publicado por|publicada por|publié par|opublikowane przez|postado por|postada por|pubblicato da|diposting oleh|geplaatst door|gepost door|опубликовано|автор:?)\s[^.!?]{1,60}?\s(on|am|en|el|le|em|il|w|op|pada|на|в)\s[^.!?]{0,40}\b(1[89]|20)\d{2}\b[^.!?]{0,20}$",
        |t| starts_with_any(t, BYLINE_STARTS),
        true,
    ),
    // A byline without its time: "Posted by Anna Baker" (a name of at most four words).
    Shape::new(
        r"^(posted by|eingestellt von|publicado por|publicada por|publié par|opublikowane przez|postado por|postada por|pubblicato da|diposting oleh|geplaatst door|gepost door|автор:)\s[^.!?:;,\d\s]+(\s[^.!?:;,\d\s]+){0,3}$",
        |t| starts_with_any(t, BYLINE_STARTS),
        true,
    ),
    // Turkish puts the name first: "Ayşe Yılmaz tarafından 09:35 tarihinde gönderildi".
    Shape::new(
        r"^[^.!?]{1,60}\starafından(\s\d{1,2}[:.]\d{2})?(\starihinde)?\s(gönderildi|yayınlandı)$",
        |t| t.contains("tarafından"),
        true,
    ),
    // "Labels: Iran, Russia"
    Shape::new(
        r"^(labels|label|etiquetas|marcadores|libellés|étiquettes|etykiety|etichette|etiketler|kategorien|tags|метки|ярлыки)\s*:\s?[^.!?]{0,200}$",
        |t| {
            starts_with_any(
                t,
                &[
                    "label",
                    "etiquetas",
                    "marcadores",
                    "libellés",
                    "étiquettes",
                    "etykiety",
                    "etichette",
                    "etiketler",
                    "kategorien",
                    "tags",
                    "метки",
                    "ярлыки",
                ],
            )
        },
        true,
    ),
];

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '|' | '/'
                | '·'
                | '•'
                | '-'
                | '–'
                | '—'
                | ','
                | ';'
                | ':'
                | '.'
                | '!'
                | '«'
                | '»'
                | '‹'
                | '›'
                | '('
                | ')'
                | '['
                | ']'
                | '<'
                | '>'
                | '→'
                | '←'
                | '*'
                | '…'
        )
}

/// Lowercase, straight apostrophes, single spaces: one pass over the line. A run of ASCII
/// words that needs no more than lowercasing is copied whole and lowercased in place.
fn fold(line: &str) -> String {
    let mut folded = String::with_capacity(line.len());
    let mut space = false;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // ASCII that only needs lowercasing, with single spaces between its words.
        let plain = |b: &u8| b.is_ascii() && !b.is_ascii_whitespace() && *b != b'`' && *b != 0x0B;
        let mut end = i;
        while let Some(b) = bytes.get(end) {
            if plain(b) {
                end += 1;
            } else if *b == b' ' && end > i && bytes.get(end + 1).is_some_and(plain) {
                end += 2;
            } else {
                break;
            }
        }
        let run = end - i;
        if run > 0 {
            if space {
                folded.push(' ');
                space = false;
            }
            let start = folded.len();
            // ASCII bytes end chars: both ends are char boundaries.
            folded.push_str(line.get(i..i + run).unwrap_or(""));
            if let Some(copied) = folded.get_mut(start..) {
                copied.make_ascii_lowercase();
            }
            i += run;
            continue;
        }
        let Some(c) = line.get(i..).and_then(|r| r.chars().next()) else {
            break;
        };
        i += c.len_utf8();
        if c.is_whitespace() {
            space = !folded.is_empty();
            continue;
        }
        if space {
            folded.push(' ');
            space = false;
        }
        match c {
            '\u{2019}' | '\u{2018}' | '`' => folded.push('\''),
            c if c.is_ascii() => folded.push(c.to_ascii_lowercase()),
            c => folded.extend(c.to_lowercase()),
        }
    }
    folded
}

/// How a line reads: running text, Blogger furniture, or words that are furniture only among
/// furniture (a share row's "Facebook" or "Email" on a line of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineClass {
    /// Anything else: kept.
    Text,
    /// Only weak phrases (network names, "Email"): dropped when next to furniture.
    Weak,
    /// Furniture: always dropped.
    Boilerplate,
}

/// Is this whole line Blogger furniture (in any of the supported languages)?
///
/// ```
/// use gleaner_clean::is_boilerplate_line;
/// assert!(is_boilerplate_line("No comments:"));
/// assert!(is_boilerplate_line("Email This BlogThis! Share to Twitter Share to Facebook"));
/// assert!(is_boilerplate_line("Keine Kommentare:"));
/// assert!(!is_boilerplate_line("I had no comments on the Kremlin's statement."));
/// // A network name alone is not furniture by itself (the body may be about it); `clean`
/// // drops it only inside a run of furniture lines, as in a pasted share row.
/// assert!(!is_boilerplate_line("Facebook"));
/// ```
pub fn is_boilerplate_line(line: &str) -> bool {
    classify_line(line) == LineClass::Boilerplate
}

/// Classify one line (see [`LineClass`]).
pub(crate) fn classify_line(line: &str) -> LineClass {
    let folded = fold(line);
    if folded.is_empty() {
        return LineClass::Text;
    }
    let words = folded.split(' ').count();
    if words <= 40 && LINE_SHAPES.iter().any(|shape| shape.is_match(&folded)) {
        return LineClass::Boilerplate;
    }
    // A feed link line: "Subscribe to: Post Comments (Atom)" and any translation of it.
    if words <= 12 && folded.ends_with("(atom)") {
        return LineClass::Boilerplate;
    }
    match consumed_by_phrases(&folded) {
        Some(true) => LineClass::Boilerplate,
        Some(false) => LineClass::Weak,
        None => LineClass::Text,
    }
}

/// Can `folded` be read entirely as phrases and separators? `Some(true)` when at least one
/// phrase is a strong one, `Some(false)` when all are weak, `None` when it cannot.
fn consumed_by_phrases(folded: &str) -> Option<bool> {
    let mut rest = folded;
    let mut matched: Option<bool> = None;
    loop {
        rest = rest.trim_start_matches(is_separator);
        if rest.is_empty() {
            return matched;
        }
        let advance = match_phrase(rest).or_else(|| {
            PREFIX_SHAPES
                .iter()
                .find_map(|shape| shape.find_end(rest).map(|end| (end, shape.strong)))
                .filter(|&(n, _)| n > 0)
        });
        let (n, strong) = advance?;
        matched = Some(matched.unwrap_or(false) | strong);
        rest = rest.get(n..).unwrap_or("");
    }
}

/// Length in bytes of the longest phrase `text` starts with, followed by a non-word char,
/// and whether that phrase is a strong one.
fn match_phrase(text: &str) -> Option<(usize, bool)> {
    let first = usize::from(*text.as_bytes().first()?);
    let phrases = PHRASES_BY_FIRST_BYTE.get(first)?;
    phrases.iter().find_map(|&(p, strong)| {
        let after = text.strip_prefix(p)?;
        let at_boundary = after.chars().next().is_none_or(|c| !c.is_alphanumeric());
        at_boundary.then_some((p.len(), strong))
    })
}

#[cfg(test)]
pub(crate) fn fold_for_tests(line: &str) -> String {
    fold(line)
}
