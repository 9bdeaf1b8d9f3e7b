"""Names, phone plans and zones for demo contacts from the countries in the source material."""

from __future__ import annotations

COUNTRIES = {
    "PT": {
        "zone": "Europe/Lisbon", "locale": "pt", "weight": 35,
        "first": ["João", "Maria", "Ana", "Pedro", "Inês", "Tiago", "Beatriz", "Rui", "Catarina", "Miguel",
                  "Sofia", "Gonçalo", "Mariana", "Duarte", "Leonor"],
        "last": ["Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins", "Sousa",
                 "Gonçalves", "Lopes", "Marques", "Almeida", "Ribeiro", "Carvalho"],
        "companies": ["Ferreira & Filhos", "Atlântico Logística", "Tejo Telecom", "Douro Vinhos", "Luz Energia"],
        "mobile": ("+3519", ["1", "2", "3", "6"], 7),
    },
    "RO": {
        "zone": "Europe/Bucharest", "locale": "ro", "weight": 20,
        "first": ["Andrei", "Ioana", "Mihai", "Elena", "Alexandru", "Maria", "Ștefan", "Ana", "Cristian", "Raluca"],
        "last": ["Popescu", "Ionescu", "Popa", "Dumitru", "Stan", "Stoica", "Gheorghe", "Rusu", "Munteanu", "Șerban"],
        "companies": ["Carpați Distribuție", "Dunărea Construct", "Transilvania Soft", "Bucur Retail"],
        "mobile": ("+407", ["2", "3", "4", "5", "6"], 7),
    },
    "RU": {
        "zone": "Europe/Moscow", "locale": "ru", "weight": 15,
        "first": ["Алексей", "Ольга", "Дмитрий", "Екатерина", "Сергей", "Анна", "Иван", "Наталья", "Михаил", "Татьяна"],
        "last": ["Иванов", "Смирнова", "Кузнецов", "Попова", "Васильев", "Петрова", "Соколов", "Морозова", "Новиков"],
        "companies": ["Волга Трейд", "Северный Ветер", "Уральские Системы", "Нева Логистик"],
        "mobile": ("+79", ["1", "2", "3", "5", "6"], 8),
    },
    "JP": {
        "zone": "Asia/Tokyo", "locale": "ja", "weight": 15,
        "first": ["Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto", "Sakura", "Kaito", "Mei"],
        "last": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi"],
        "companies": ["Sakura Trading", "Fuji Components", "Kanto Logistics", "Hikari Systems"],
        "mobile": ("+8190", ["1", "2", "3", "4", "5", "6", "7", "8"], 7),
    },
    "GB": {
        "zone": "Europe/London", "locale": "en", "weight": 15,
        "first": ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Charlie", "Grace"],
        "last": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Evans", "Walker"],
        "companies": ["Thames Analytics", "Pennine Foods", "Harbour Insurance", "Albion Print"],
        "mobile": ("+447", ["4", "5", "7", "8", "9"], 8),
    },
}

ASCII = {"ã": "a", "á": "a", "â": "a", "à": "a", "ç": "c", "é": "e", "ê": "e", "í": "i", "ó": "o", "ô": "o", "õ": "o",
         "ú": "u", "ș": "s", "ş": "s", "ț": "t", "ţ": "t", "ă": "a", "î": "i"}
CYRILLIC = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                     "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"], strict=True))


def email_local(first: str, last: str) -> str:
    """A plausible mailbox name from a name in any of the demo scripts."""
    out = []
    for ch in f"{first}.{last}".lower():
        out.append(ASCII.get(ch) or CYRILLIC.get(ch) or (ch if ch.isascii() and (ch.isalnum() or ch == ".") else ""))
    return "".join(out)
