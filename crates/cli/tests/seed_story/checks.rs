//! The seed's pitfalls as the checks see them, on the example's real images: the article's
//! server on `scratch` and the production image get no warning at all; the example's own
//! server, which also makes HTTPS calls (`-check`), is told it has no CA certificates on
//! `scratch`, and so is the production image once its certificates are gone.

use super::{Story, TEST};
use skiff_testkit::project::{BuildRun, Project};

/// The article's program: a web server that makes no outgoing HTTPS call.
const ARTICLE_SERVER: &str = r#"package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from the article")
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.ListenAndServe(":"+port, nil)
}
"#;

impl Story {
    /// The minimal build of the example: its one finding is the missing CA bundle, because
    /// the example's `-check` is an HTTPS client (the article's server has none, see
    /// [`Story::article_images_get_no_warning`]); the size report compares it with the
    /// builder.
    pub(super) fn minimal_build_reports_only_the_missing_certificates(&self, run: &BuildRun) {
        assert_eq!(
            run.warning_rules(),
            ["MissingCACertificates"],
            "{}",
            run.report()
        );
        let stderr = run.stderr();
        assert!(
            stderr.contains("`/server` makes TLS connections but the image has no CA certificates"),
            "{}",
            run.report()
        );
        assert!(stderr.contains("size: builder "), "{}", run.report());
        assert!(stderr.contains(" → final "), "{}", run.report());
    }

    /// The article's two Dockerfiles as it wrote them (on our bases), with the article's
    /// server: not one warning, from the checks or from the verification.
    pub(super) fn article_images_get_no_warning(&self, app: &Project) {
        let article = self.project();
        for name in ["Dockerfile", "Dockerfile.production", "go.mod", "go.sum"] {
            article.write(
                name,
                std::fs::read(app.path(name)).expect("an example file"),
            );
        }
        article.write("main.go", ARTICLE_SERVER);
        for dockerfile in ["Dockerfile", "Dockerfile.production"] {
            let path = article.path(dockerfile);
            let run = article.build_ok(&[
                "-f",
                path.to_str().unwrap(),
                "--build-arg",
                &self.registry_arg(),
            ]);
            assert_eq!(
                run.warning_rules(),
                Vec::<String>::new(),
                "{dockerfile}: {}",
                run.report()
            );
            eprintln!("[{TEST}] the article's {dockerfile}: no warning");
        }
    }

    /// `Dockerfile.production` without its certificates: the verification names the program
    /// and the fix. Our slim base, unlike Docker Hub's, ships `ca-certificates`, so the CA
    /// line is replaced by one that removes them: the image Docker Hub's base would give.
    pub(super) fn production_without_certificates_is_told(&self, app: &Project) {
        let text = std::fs::read_to_string(app.path("Dockerfile.production")).unwrap();
        let ca_line = "RUN update-ca-certificates\n";
        assert!(text.contains(ca_line), "{text}");
        let without = text.replace(
            ca_line,
            "RUN rm -rf /etc/ssl/certs /usr/share/ca-certificates /etc/ca-certificates.conf\n",
        );
        app.write("Dockerfile.nocerts", without);
        let path = app.path("Dockerfile.nocerts");
        let run = app.build_ok(&[
            "-f",
            path.to_str().unwrap(),
            "--build-arg",
            &self.registry_arg(),
        ]);
        assert_eq!(
            run.warning_rules(),
            ["MissingCACertificates"],
            "{}",
            run.report()
        );
        let stderr = run.stderr();
        for said in [
            "`/home/appuser/app` makes TLS connections",
            "x509: certificate signed by unknown authority",
            "ca-certificates.crt",
        ] {
            assert!(stderr.contains(said), "{said}\n{}", run.report());
        }
        std::fs::remove_file(path).unwrap();
    }
}
