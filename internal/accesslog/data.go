package accesslog

// The vocabularies the generator draws from.

var browserAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
}

var crawlerAgents = []string{
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
	"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
	"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
	"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
}

var scannerAgents = []string{
	"curl/8.5.0",
	"python-requests/2.31.0",
	"Go-http-client/1.1",
	"zgrab/0.x",
	"Mozilla/5.0 zgrab/0.x",
	"-",
}

var apiAgents = []string{
	"okhttp/4.12.0",
	"ShopApp/3.4.1 (iPhone; iOS 18.1; Scale/3.00)",
	"ShopApp/3.4.0 (Android 14)",
	"axios/1.7.7",
}

var userNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}

var categories = []string{"shoes", "jackets", "bags", "hats", "socks", "outdoor", "kids", "sale"}

var searchTerms = []string{"running+shoes", "rain+jacket", "backpack", "wool+socks", "gift+card", "sale", "size+guide"}

var blogPosts = []string{"how-to-choose-hiking-boots", "winter-layering-guide", "our-new-store", "care-for-leather", "spring-collection"}

var staticAssets = []string{
	"/static/css/main.4f2a1c.css",
	"/static/js/app.9b1e77.js",
	"/static/js/vendor.31c0de.js",
	"/static/img/logo.svg",
	"/static/img/hero-1600.webp",
	"/static/img/products/thumb-101.jpg",
	"/static/img/products/thumb-205.jpg",
	"/static/img/products/thumb-342.jpg",
	"/static/fonts/inter-var.woff2",
}

var scanPaths = []string{
	"/wp-login.php",
	"/wp-admin/",
	"/.env",
	"/.git/config",
	"/phpmyadmin/index.php",
	"/admin/config.php",
	"/cgi-bin/luci",
	"/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
	"/actuator/health",
	"/server-status",
	"/xmlrpc.php",
	"/boaform/admin/formLogin",
}

var externalReferers = []weighted[string]{
	{"-", 55},
	{"https://www.google.com/", 25},
	{"https://www.bing.com/", 5},
	{"https://duckduckgo.com/", 4},
	{"https://t.co/", 3},
	{"https://www.facebook.com/", 3},
	{"https://news.ycombinator.com/", 1},
	{"https://www.reddit.com/", 2},
	{"android-app://com.google.android.gm/", 2},
}
