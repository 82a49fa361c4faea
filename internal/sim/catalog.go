package sim

// The catalogue: which countries the application's users live in, and
// which real networks they reach it from. The autonomous-system numbers are
// looked up in the ip-location-db ASN data and every network the data
// places in the ISP's country is a candidate address; an ASN the data does
// not hold is skipped (Geography.Missing lists it).

// countrySpec is a country of the population.
type countrySpec struct {
	code string
	// users is the share of the application's users who live there (0 for
	// countries attacks come from but users do not).
	users float64
	// lang is the browser language most of its users have.
	lang string
}

// countries: a western consumer web application with a global tail. The
// shares are a judgement, not a measurement; the attacker-only countries
// are common origins of account-takeover traffic in vendors' reports.
var countries = []countrySpec{
	{"US", 30, "en-US"},
	{"GB", 9, "en-GB"},
	{"DE", 9, "de-DE"},
	{"FR", 7, "fr-FR"},
	{"CA", 5, "en-CA"},
	{"ES", 5, "es-ES"},
	{"IT", 5, "it-IT"},
	{"NL", 4, "nl-NL"},
	{"BR", 6, "pt-BR"},
	{"IN", 6, "en-IN"},
	{"AU", 4, "en-AU"},
	{"JP", 4, "ja-JP"},
	{"PL", 3, "pl-PL"},
	{"MX", 3, "es-MX"},
	// attack origins only
	{"NG", 0, "en-NG"},
	{"VN", 0, "vi-VN"},
	{"ID", 0, "id-ID"},
	{"RU", 0, "ru-RU"},
	{"UA", 0, "uk-UA"},
	{"PK", 0, "ur-PK"},
}

// ispSpec is an access network: a home broadband provider, a mobile
// carrier, or both (one ASN often carries both).
type ispSpec struct {
	name    string
	country string
	asns    []uint32
	// home and mobile are the provider's shares of the country's home
	// broadband and mobile subscribers (relative weights).
	home, mobile float64
	// renumberDays is the mean time a home keeps its IPv4 address: cable
	// networks keep a lease for months, German DSL still reconnects often.
	renumberDays float64
}

// isps: the largest providers of each country by subscribers, from public
// market-share figures rounded to a few weights (judgement).
var isps = []ispSpec{
	{"Comcast", "US", []uint32{7922, 7015, 33491, 33659, 33651, 33652}, 30, 0, 120},
	{"Charter", "US", []uint32{20115, 20001, 10796, 11427, 33363, 11426, 7843, 11351, 12271}, 28, 0, 120},
	{"AT&T", "US", []uint32{7018}, 16, 0, 45},
	{"Verizon", "US", []uint32{701}, 9, 0, 60},
	{"Cox", "US", []uint32{22773}, 7, 0, 120},
	{"Frontier", "US", []uint32{5650}, 5, 0, 30},
	{"CenturyLink", "US", []uint32{209}, 5, 0, 30},
	{"T-Mobile US", "US", []uint32{21928}, 0, 40, 0},
	{"Verizon Wireless", "US", []uint32{6167, 22394}, 0, 35, 0},
	{"AT&T Mobility", "US", []uint32{20057}, 0, 25, 0},

	{"BT", "GB", []uint32{2856}, 32, 0, 60},
	{"Sky", "GB", []uint32{5607}, 24, 0, 60},
	{"Virgin Media", "GB", []uint32{5089}, 22, 0, 120},
	{"TalkTalk", "GB", []uint32{13285}, 10, 0, 45},
	{"Vodafone UK", "GB", []uint32{25135}, 0, 30, 0},
	{"O2 UK", "GB", []uint32{35228}, 0, 35, 0},
	{"Three UK", "GB", []uint32{206067}, 0, 35, 0},

	{"Deutsche Telekom", "DE", []uint32{3320}, 45, 40, 7},
	{"Vodafone DE", "DE", []uint32{3209}, 30, 35, 60},
	{"O2 DE", "DE", []uint32{6805}, 10, 25, 7},
	{"1&1", "DE", []uint32{8881}, 15, 0, 7},

	{"Orange", "FR", []uint32{3215}, 40, 35, 30},
	{"Free", "FR", []uint32{12322}, 25, 0, 180},
	{"Free Mobile", "FR", []uint32{51207}, 0, 20, 0},
	{"SFR", "FR", []uint32{15557}, 20, 25, 30},
	{"Bouygues", "FR", []uint32{5410}, 15, 20, 30},

	{"Rogers", "CA", []uint32{812}, 35, 35, 90},
	{"Bell", "CA", []uint32{577}, 40, 35, 60},
	{"Telus", "CA", []uint32{852}, 25, 30, 60},

	{"Movistar", "ES", []uint32{3352}, 45, 40, 30},
	{"Orange ES", "ES", []uint32{12479}, 30, 35, 30},
	{"Vodafone ES", "ES", []uint32{12430}, 25, 25, 30},

	{"TIM", "IT", []uint32{3269}, 50, 45, 14},
	{"Vodafone IT", "IT", []uint32{30722}, 25, 55, 14},
	{"Fastweb", "IT", []uint32{12874}, 25, 0, 60},

	{"KPN", "NL", []uint32{1136}, 45, 40, 60},
	{"VodafoneZiggo", "NL", []uint32{33915}, 40, 35, 120},
	{"Odido", "NL", []uint32{50266}, 15, 25, 60},

	{"Vivo", "BR", []uint32{27699, 26599}, 45, 45, 7},
	{"Claro BR", "BR", []uint32{28573}, 55, 55, 7},

	{"Jio", "IN", []uint32{55836}, 50, 55, 3},
	{"Airtel", "IN", []uint32{24560, 45609}, 50, 45, 3},

	{"Telstra", "AU", []uint32{1221}, 45, 55, 60},
	{"Optus", "AU", []uint32{4804}, 25, 45, 60},
	{"TPG", "AU", []uint32{7545}, 30, 0, 60},

	{"NTT OCN", "JP", []uint32{4713}, 40, 0, 30},
	{"NTT Docomo", "JP", []uint32{9605}, 0, 40, 0},
	{"KDDI", "JP", []uint32{2516}, 30, 30, 30},
	{"SoftBank", "JP", []uint32{17676}, 30, 30, 30},

	{"Orange PL", "PL", []uint32{5617}, 60, 40, 14},
	{"T-Mobile PL", "PL", []uint32{12912}, 40, 60, 14},

	{"Telmex", "MX", []uint32{8151}, 100, 0, 30},
	{"Telcel", "MX", []uint32{28403}, 0, 100, 0},

	{"MTN Nigeria", "NG", []uint32{29465}, 100, 100, 3},
	{"Viettel", "VN", []uint32{7552}, 50, 100, 3},
	{"VNPT", "VN", []uint32{45899}, 50, 0, 3},
	{"Telkom Indonesia", "ID", []uint32{7713}, 100, 100, 3},
	{"Rostelecom", "RU", []uint32{12389}, 100, 100, 7},
	{"Kyivstar", "UA", []uint32{15895}, 100, 100, 7},
	{"PTCL", "PK", []uint32{17557}, 100, 100, 3},
}

// vpnASNs are commercial VPN and cloud networks an attacker rents an exit
// from: the hosting networks VPN services run on (M247, Datacamp/CDN77,
// PacketHub, Clouvider, Zenlayer, 31173 Services) and the big clouds.
// Some are on the engine's hosting list and some are not, as in life.
var vpnASNs = []uint32{
	9009, 16247, // M247
	212238, 60068, // Datacamp, CDN77
	136787, 147049, // PacketHub
	62240,        // Clouvider
	21859, 62610, // Zenlayer
	39351, // 31173 Services
	14061, // DigitalOcean
	16276, // OVH
	24940, // Hetzner
	16509, // Amazon
	20473, // Vultr
	63949, // Linode
}

// proxyASNs are corporate secure web gateways: an office whose traffic
// leaves through one appears at the provider's nearest hub.
var proxyASNs = []uint32{22616, 53813} // Zscaler
